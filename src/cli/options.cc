#include "cli/options.h"

#include <cctype>
#include <optional>

namespace vessel::cli {

Result<uint64_t> parse_unsigned(std::string_view text) {
  if (text.empty()) return Error("empty number");
  uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return Error("'" + std::string(text) + "' is not a number");
    uint64_t digit = static_cast<uint64_t>(c - '0');
    if (value > (UINT64_MAX - digit) / 10) return Error("'" + std::string(text) + "' is too large");
    value = value * 10 + digit;
  }
  return value;
}

Result<uint64_t> parse_size(std::string_view text) {
  size_t digits = 0;
  while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) ++digits;
  const std::string quoted = "'" + std::string(text) + "'";
  if (digits == 0) return Error(quoted + " is not a size (examples: 512M, 2G)");
  TRY_ASSIGN(uint64_t number, parse_unsigned(text.substr(0, digits)));

  std::string suffix;
  for (char c : text.substr(digits)) suffix.push_back(static_cast<char>(std::toupper(c)));
  if (suffix.size() > 1 && (suffix.substr(1) == "B" || suffix.substr(1) == "IB")) suffix.resize(1);
  unsigned shift = 0;
  if (suffix.empty() || suffix == "M") {
    shift = 20;
  } else if (suffix == "K") {
    shift = 10;
  } else if (suffix == "G") {
    shift = 30;
  } else if (suffix == "T") {
    shift = 40;
  } else {
    return Error(quoted + " has an unknown unit (use K, M or G)");
  }
  if (number > (UINT64_MAX >> shift)) return Error(quoted + " is too large");
  return number << shift;
}

OptionList split_option_list(std::string_view text) {
  OptionList list;
  size_t comma = text.find(',');
  list.head = text.substr(0, comma);
  while (comma != std::string_view::npos) {
    text.remove_prefix(comma + 1);
    comma = text.find(',');
    std::string_view item = text.substr(0, comma);
    size_t eq = item.find('=');
    SubOption option{item.substr(0, eq), std::nullopt, std::string(item)};
    if (eq != std::string_view::npos) option.value = item.substr(eq + 1);
    list.items.push_back(std::move(option));
  }
  return list;
}

Result<bool> parse_on_off(std::string_view key, std::string_view value) {
  if (value == "on" || value == "yes" || value == "true") return true;
  if (value == "off" || value == "no" || value == "false") return false;
  return Error(std::string(key) + "=" + std::string(value) + ": expected on or off");
}

Result<void> parse_options(std::span<const std::string_view> args,
                           std::span<const OptionSpec> specs, std::string_view command) {
  const std::string hint = " (see '" + std::string(command) + " --help')";
  for (size_t i = 0; i < args.size(); ++i) {
    std::string_view arg = args[i];
    std::string_view name = arg;
    std::optional<std::string_view> inline_value;
    if (size_t eq = arg.find('='); arg.starts_with("--") && eq != std::string_view::npos) {
      name = arg.substr(0, eq);
      inline_value = arg.substr(eq + 1);
    }
    const OptionSpec* spec = nullptr;
    for (const OptionSpec& s : specs) {
      if (s.name == name) spec = &s;
    }
    if (spec == nullptr) {
      if (!arg.starts_with("-")) {
        return Error("unexpected argument '" + std::string(arg) + "'" + hint);
      }
      return Error("unknown option '" + std::string(name) + "'" + hint);
    }
    std::string_view value;
    if (spec->takes_value) {
      if (inline_value) {
        value = *inline_value;
      } else if (i + 1 < args.size()) {
        value = args[++i];
      } else {
        return Error("option '" + std::string(name) + "' needs a value" + hint);
      }
    } else if (inline_value) {
      return Error("option '" + std::string(name) + "' takes no value" + hint);
    }
    Result<void> applied = spec->apply(value);
    if (!applied) return Error(std::string(name) + ": " + applied.error().message());
  }
  return Ok();
}

}  // namespace vessel::cli
