#include "storage/image_values.h"

#include <sys/stat.h>

#include <cctype>
#include <charconv>
#include <cstring>

namespace vessel::storage {

Result<uint64_t> parse_img_size(std::string_view text) {
  const std::string quoted = "'" + std::string(text) + "'";
  const std::string bad = "invalid size " + quoted +
                          ": use a number of bytes with an optional suffix k, M, G, T, P or E "
                          "(examples: 512M, 10G, 0x10000)";
  size_t pos = text.find_first_not_of(" \t\n\v\f\r");  // strtoull skips leading space
  if (pos == std::string_view::npos) return Error(bad);
  const bool hex = text.substr(pos, 2) == "0x" || text.substr(pos, 2) == "0X";
  if (hex) pos += 2;
  uint64_t whole = 0;
  const char* digits = text.data() + pos;
  auto [end, ec] = std::from_chars(digits, text.data() + text.size(), whole, hex ? 16 : 10);
  if (ec == std::errc::result_out_of_range) return Error(quoted + " is too large");
  if (ec != std::errc()) return Error(bad);
  pos += static_cast<size_t>(end - digits);
  double fraction = 0;
  if (!hex && pos < text.size() && text[pos] == '.') {
    ++pos;
    double scale = 0.1;
    size_t start = pos;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      fraction += scale * (text[pos] - '0');
      scale /= 10;
      ++pos;
    }
    if (pos == start) return Error(bad);
  }
  std::string_view suffix = text.substr(pos);
  static constexpr std::string_view kSuffixes = "kmgtpe";  // 2^10, 2^20, ... 2^60
  unsigned shift = 0;
  if (suffix.size() == 1 && suffix != "B" && suffix != "b") {
    size_t i =
        kSuffixes.find(static_cast<char>(std::tolower(static_cast<unsigned char>(suffix[0]))));
    if (i == std::string_view::npos) return Error(bad);
    shift = static_cast<unsigned>(10 * (i + 1));
  } else if (!suffix.empty() && suffix != "B" && suffix != "b") {
    return Error(bad);
  }
  // As qemu-img: a fraction needs a unit ("1.5G"; "1.5" bytes is no size).
  if (fraction != 0 && shift == 0) return Error(bad);
  if (shift > 0 && whole > (UINT64_MAX >> shift)) return Error(quoted + " is too large");
  uint64_t value = whole << shift;
  uint64_t extra = static_cast<uint64_t>(fraction * static_cast<double>(uint64_t{1} << shift));
  if (value > UINT64_MAX - extra) return Error(quoted + " is too large");
  return value + extra;
}

std::vector<std::string> img_option_items(std::span<const std::string> lists) {
  std::vector<std::string> items;
  for (const std::string& list : lists) {
    size_t start = 0;
    while (start <= list.size()) {
      size_t comma = list.find(',', start);
      if (comma == std::string::npos) comma = list.size();
      std::string item = list.substr(start, comma - start);
      start = comma + 1;
      if (!item.empty()) items.push_back(std::move(item));
    }
  }
  return items;
}

std::vector<std::pair<std::string, std::string>> split_img_options(
    std::span<const std::string> lists) {
  std::vector<std::pair<std::string, std::string>> items;
  for (const std::string& item : img_option_items(lists)) {
    size_t eq = item.find('=');
    if (eq == std::string::npos) {
      items.emplace_back(item, "");
    } else {
      items.emplace_back(item.substr(0, eq), item.substr(eq + 1));
    }
  }
  return items;
}

Result<bool> parse_img_bool(std::string_view key, std::string_view value) {
  if (value == "on" || value == "true" || value == "yes") return true;
  if (value == "off" || value == "false" || value == "no") return false;
  return Error("Parameter '" + std::string(key) + "' expects 'on' or 'off'");
}

uint64_t allocated_bytes(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return 0;
  return static_cast<uint64_t>(st.st_blocks) * 512;
}

bool is_zero(std::span<const uint8_t> data) {
  size_t i = 0;
  // 64 bytes per test: the OR of eight words vectorises, the early exit
  // stays cheap.
  for (; i + 64 <= data.size(); i += 64) {
    uint64_t words[8];
    std::memcpy(words, data.data() + i, 64);
    uint64_t any = 0;
    for (uint64_t w : words) any |= w;
    if (any != 0) return false;
  }
  for (; i + 8 <= data.size(); i += 8) {
    uint64_t word;
    std::memcpy(&word, data.data() + i, 8);
    if (word != 0) return false;
  }
  for (; i < data.size(); ++i) {
    if (data[i] != 0) return false;
  }
  return true;
}

}  // namespace vessel::storage
