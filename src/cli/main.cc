// vessel: the command-line front end. Each subcommand lives in its own file
// and is listed in kCommands.
#include <cstdio>
#include <span>
#include <string_view>
#include <vector>

#include "base/version.h"
#include "cli/img_command.h"
#include "cli/run_command.h"

namespace vessel::cli {
namespace {

struct Command {
  std::string_view name;
  std::string_view summary;
  int (*main)(std::span<const std::string_view> args);
};

constexpr Command kCommands[] = {
    {"run", "boot a virtual machine in the foreground", run_command},
    {"img", "create, inspect and convert disk images (qemu-img's verbs)", img_command},
};

void print_help() {
  std::printf(
      "Usage: vessel <command> [options]\n"
      "       vessel --version\n"
      "\n"
      "Vessel runs RISC-V (RV64GC) virtual machines on the QEMU-compatible 'virt'\n"
      "board, booting real firmware (OpenSBI) and Linux.\n"
      "\n"
      "Commands:\n");
  for (const Command& c : kCommands) {
    std::printf("  %-8.*s %.*s\n", static_cast<int>(c.name.size()), c.name.data(),
                static_cast<int>(c.summary.size()), c.summary.data());
  }
  std::printf(
      "\n"
      "Options:\n"
      "  -h, --help   show this help\n"
      "  --version    show the version\n"
      "\n"
      "Run 'vessel <command> --help' for a command's options and exit statuses.\n");
}

int main(std::span<const std::string_view> args) {
  if (args.empty()) {
    print_help();
    return 1;
  }
  std::string_view first = args[0];
  if (first == "--help" || first == "-h" || first == "help") {
    print_help();
    return 0;
  }
  if (first == "--version") {
    std::printf("vessel %s\n", kVersionString);
    return 0;
  }
  for (const Command& c : kCommands) {
    if (c.name == first) return c.main(args.subspan(1));
  }
  std::fprintf(stderr, "vessel: error: unknown command '%.*s' (see 'vessel --help')\n",
               static_cast<int>(first.size()), first.data());
  return 1;
}

}  // namespace
}  // namespace vessel::cli

int main(int argc, char** argv) {
  std::vector<std::string_view> args(argv + 1, argv + argc);
  return vessel::cli::main(args);
}
