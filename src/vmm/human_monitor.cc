#include "vmm/human_monitor.h"

#include <cctype>
#include <optional>
#include <span>

namespace vessel::vmm {
namespace {

bool is_space(char c) {
  return std::isspace(static_cast<unsigned char>(c)) != 0;
}

void skip_spaces(std::string_view& p) {
  while (!p.empty() && is_space(p.front())) p.remove_prefix(1);
}

// One argument, as QEMU's get_str() reads it: a word, or a "quoted string"
// with \n \r \\ \' \" escapes. Problems are reported into `out`.
std::optional<std::string> take_string(std::string_view& p, std::string& out) {
  skip_spaces(p);
  if (p.empty()) return std::nullopt;
  std::string value;
  if (p.front() != '"') {
    while (!p.empty() && !is_space(p.front())) {
      value += p.front();
      p.remove_prefix(1);
    }
    return value;
  }
  p.remove_prefix(1);
  while (!p.empty() && p.front() != '"') {
    char c = p.front();
    p.remove_prefix(1);
    if (c == '\\') {
      char escaped = p.empty() ? '\0' : p.front();
      if (!p.empty()) p.remove_prefix(1);
      switch (escaped) {
        case 'n':
          c = '\n';
          break;
        case 'r':
          c = '\r';
          break;
        case '\\':
        case '\'':
        case '"':
          c = escaped;
          break;
        default:
          out += std::string("unsupported escape code: '\\") + escaped + "'\n";
          return std::nullopt;
      }
    }
    value += c;
  }
  if (p.empty()) {
    out += "unterminated string\n";
    return std::nullopt;
  }
  p.remove_prefix(1);
  return value;
}

// QEMU's monitor prints "\n"; its output reaches QMP as "\r\n".
std::string crlf(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '\n') out += '\r';
    out += c;
  }
  return out;
}

}  // namespace

struct HumanMonitor::Command {
  enum class Arg { kNone, kOptional, kRequired };
  std::string_view name;
  Arg arg;
  std::string_view params;  // as `help` shows them
  std::string_view help;
  std::string (HumanMonitor::*run)(const std::string& arg);  // nullptr: `info`, a table of its own
};

// QEMU's names, parameters and help texts (hmp-commands.hx, hmp-commands-info.hx).
const HumanMonitor::Command HumanMonitor::kCommands[] = {
    {"help", Command::Arg::kOptional, "[cmd]", "show the help", nullptr},
    {"info", Command::Arg::kOptional, "[subcommand]",
     "show various information about the system state", nullptr},
    {"savevm", Command::Arg::kOptional, "[tag]",
     "save a VM snapshot. If no tag is provided, a new snapshot is created", &HumanMonitor::savevm},
    {"loadvm", Command::Arg::kRequired, "tag", "restore a VM snapshot from its tag",
     &HumanMonitor::loadvm},
    {"delvm", Command::Arg::kRequired, "tag", "delete a VM snapshot from its tag",
     &HumanMonitor::delvm},
};

const HumanMonitor::Command HumanMonitor::kInfoCommands[] = {
    {"snapshots", Command::Arg::kNone, "", "show the currently saved VM snapshots",
     &HumanMonitor::info_snapshots},
    {"status", Command::Arg::kNone, "", "show the current VM status (running|paused)",
     &HumanMonitor::info_status},
};

std::string HumanMonitor::execute(std::string_view line) {
  std::string out;
  std::string_view p = line;
  skip_spaces(p);
  if (p.empty()) return "";
  std::span<const Command> table = kCommands;
  std::string prefix;  // "info " inside the info table
  for (;;) {
    size_t end = 0;
    while (end < p.size() && !is_space(p[end])) ++end;
    const std::string name(p.substr(0, end));
    p.remove_prefix(end);
    const Command* command = nullptr;
    for (const Command& c : table) {
      if (c.name == name) command = &c;
    }
    if (command == nullptr) return crlf("unknown command: '" + prefix + name + "'\n");
    const std::string full_name = prefix + name;
    auto usage = [&](const std::string& why) {
      return crlf(out + full_name + ": " + why + "\nTry \"help " + full_name +
                  "\" for more information\n");
    };
    auto help_lines = [&](std::span<const Command> commands, const std::string& head) {
      std::string text;
      for (const Command& c : commands) {
        text += head + std::string(c.name) + " " + std::string(c.params) + " -- " +
                std::string(c.help) + "\n";
      }
      return text;
    };
    // `info` alone lists its subcommands; with one, that is the command.
    if (table.data() == kCommands && command->name == "info") {
      skip_spaces(p);
      if (p.empty()) return crlf(help_lines(kInfoCommands, "info "));
      table = kInfoCommands;
      prefix = "info ";
      continue;
    }
    std::optional<std::string> arg;
    if (command->arg != Command::Arg::kNone) {
      skip_spaces(p);
      if (!p.empty() || command->arg == Command::Arg::kRequired) {
        arg = take_string(p, out);
        if (!arg) return usage("string expected");
      }
    }
    skip_spaces(p);
    if (!p.empty()) return usage("extraneous characters at the end of line");
    if (command->run != nullptr) return crlf((this->*command->run)(arg.value_or("")));
    // help [cmd]
    if (!arg) return crlf(help_lines(kCommands, ""));
    for (const Command& c : kCommands) {
      if (c.name == *arg) return crlf(help_lines(std::span(&c, 1), ""));
    }
    if (*arg == "info") return crlf(help_lines(kInfoCommands, "info "));
    return crlf("unknown command: '" + *arg + "'\n");
  }
}

std::string HumanMonitor::savevm(const std::string& tag) {
  Result<void> r = save_vm_snapshot(vm_, tag, event_);
  return r ? "" : "Error: " + r.error().message() + "\n";
}

std::string HumanMonitor::loadvm(const std::string& tag) {
  Result<void> r = load_vm_snapshot(vm_, tag, event_);
  return r ? "" : "Error: " + r.error().message() + "\n";
}

std::string HumanMonitor::delvm(const std::string& tag) {
  Result<void> r = delete_vm_snapshot(vm_, tag);
  return r ? "" : "Error: " + r.error().message() + "\n";
}

std::string HumanMonitor::info_snapshots(const std::string&) {
  Result<std::string> table = vm_snapshot_table(vm_);
  return table ? *table : table.error().message() + "\n";
}

std::string HumanMonitor::info_status(const std::string&) {
  return std::string("VM status: ") + (vm_.paused() ? "paused" : "running") + "\n";
}

}  // namespace vessel::vmm
