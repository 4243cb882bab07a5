#include "cli/img_command.h"

#include <cstdio>

#include "cli/img_common.h"
#include "cli/img_verbs.h"

namespace vessel::cli {
namespace {

struct Verb {
  std::string_view name;
  std::string_view synopsis;
  int (*main)(std::span<const std::string_view> args);
};

constexpr Verb kVerbs[] = {
    {"create",
     "create [-q] [--object objectdef] [-f fmt] [-b backing_file -F backing_fmt] [-u] [-o options] "
     "filename [size]",
     img::create_verb},
    {"info",
     "info [--object objectdef] [--image-opts] [-f fmt] [--output=human|json] [--backing-chain] "
     "[-U] filename",
     img::info_verb},
    {"convert",
     "convert [--object objectdef] [--image-opts] [--target-image-opts] [-q] [-p] [-c] [-n]\n"
     "              [-U] [-f fmt] [-O output_fmt] [-t cache] [-T src_cache]\n"
     "              [-B backing_file [-F backing_fmt]] [-S sparse_size] filename\n"
     "              output_filename",
     img::convert_verb},
    {"check",
     "check [--object objectdef] [--image-opts] [-q] [-f fmt] [--output=human|json] [-r leaks|all] "
     "[-U] filename",
     img::check_verb},
    {"compare",
     "compare [--object objectdef] [--image-opts] [-q] [-f fmt] [-F fmt] [-s] [-p] [-U] filename1 "
     "filename2",
     img::compare_verb},
    {"map", "map [--object objectdef] [--image-opts] [-f fmt] [--output=human|json] [-U] filename",
     img::map_verb},
    {"measure",
     "measure [--output=human|json] [--object objectdef] [--image-opts] [-O output_fmt] [-o "
     "options] [--size N | [-f fmt] filename]",
     img::measure_verb},
    {"resize",
     "resize [--object objectdef] [--image-opts] [-q] [-f fmt] [--shrink] filename [+ | -]size",
     img::resize_verb},
    {"snapshot",
     "snapshot [--object objectdef] [--image-opts] [-q] [-f fmt] [-l | -a snapshot | -c snapshot | "
     "-d snapshot] [-U] filename",
     img::snapshot_verb},
    {"amend", "amend [--object objectdef] [--image-opts] [-p] [-q] [-f fmt] -o options filename",
     img::amend_verb},
    {"commit",
     "commit [--object objectdef] [--image-opts] [-q] [-f fmt] [-b base] [-d] [-p] filename",
     img::commit_verb},
    {"rebase",
     "rebase [--object objectdef] [--image-opts] [-q] [-f fmt] [-u] [-b backing_file] [-F "
     "backing_fmt] [-p] filename",
     img::rebase_verb},
    {"bench",
     "bench [-c count] [-d depth] [-f fmt] [--image-opts] [--flush-interval=N] [--no-drain]\n"
     "              [-i threads] [-o offset] [--pattern=N] [-q] [-s buffer_size]\n"
     "              [-S step_size] [-t cache] [-w] [-U] filename",
     img::bench_verb},
    {"dd",
     "dd [--object objectdef] [--image-opts] [-f fmt] [-O output_fmt] [-U] [bs=block_size] "
     "[count=blocks] [skip=blocks]\n"
     "              if=input of=output",
     img::dd_verb},
    {"bitmap",
     "bitmap (--merge SOURCE | --add | --remove | --clear | --enable | --disable)...\n"
     "              [-b source_file [-F source_fmt]] [-g granularity] [--object objectdef]\n"
     "              [--image-opts | -f fmt] filename bitmap",
     img::bitmap_verb},
};

void print_help() {
  std::printf(
      "Usage: vessel img <command> [command options]\n"
      "\n"
      "Creates, inspects, converts and edits disk images like qemu-img, with the\n"
      "same commands, options, output and exit statuses. Formats: raw and qcow2.\n"
      "\n"
      "Commands:\n");
  for (const Verb& v : kVerbs) {
    std::printf("  %.*s\n", static_cast<int>(v.synopsis.size()), v.synopsis.data());
  }
  std::printf(
      "\n"
      "Sizes are bytes, or a number with a suffix k, M, G, T, P or E (powers of\n"
      "1024): 512M, 10G, 1.5G.\n"
      "\n"
      "Run 'vessel img <command> --help' for a command's options and exit statuses.\n"
      "Errors print one line 'vessel: error: ...' naming the file and exit with 1.\n");
}

}  // namespace

int img_command(std::span<const std::string_view> args) {
  if (args.empty()) {
    print_help();
    return img::kExitError;
  }
  std::string_view first = args[0];
  if (first == "--help" || first == "-h" || first == "help") {
    print_help();
    return 0;
  }
  for (const Verb& v : kVerbs) {
    if (v.name == first) return v.main(args.subspan(1));
  }
  return img::fail("unknown img command '" + std::string(first) + "' (see 'vessel img --help')");
}

}  // namespace vessel::cli
