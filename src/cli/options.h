// Command-line parsing helpers shared by the vessel subcommands.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace vessel::cli {

// "512M", "2G", "1024K", "4096" (a bare number is MiB, as QEMU's -m);
// suffixes K, M, G, T in either case, optionally followed by "B" or "iB".
Result<uint64_t> parse_size(std::string_view text);

// A decimal number without sign or suffix.
Result<uint64_t> parse_unsigned(std::string_view text);

// A QEMU-style option list, "unix:/run/vm.sock,server,wait=off": the head
// before the first comma, then each item split at its first '=' (a bare item
// such as "server" has no value).
struct SubOption {
  std::string_view key;
  std::optional<std::string_view> value;
  std::string text;  // the item as written, for error messages
};
struct OptionList {
  std::string_view head;
  std::vector<SubOption> items;
};
OptionList split_option_list(std::string_view text);

// QEMU's booleans: on/off (also yes/no, true/false); `key` names the option
// in the error.
Result<bool> parse_on_off(std::string_view key, std::string_view value);

// One option of a subcommand: "--name VALUE" or "--name=VALUE" when it takes
// a value, "--name" alone otherwise.
struct OptionSpec {
  std::string_view name;  // with the leading dashes
  bool takes_value;
  std::function<Result<void>(std::string_view value)> apply;
};

// Applies `args` to `specs` in order; errors are one line naming the option.
// `command` is used in the hint, e.g. "vessel run".
Result<void> parse_options(std::span<const std::string_view> args,
                           std::span<const OptionSpec> specs, std::string_view command);

}  // namespace vessel::cli
