#include "cli/img_common.h"

#include <sys/stat.h>

#include <cctype>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <utility>

#include "block/qcow2_snapshot_text.h"
#include "block/raw_file.h"

namespace vessel::cli::img {

int fail(const std::string& message) {
  std::fprintf(stderr, "vessel: error: %s\n", message.c_str());
  return kExitError;
}

void warn(const std::string& message) {
  std::fprintf(stderr, "vessel: warning: %s\n", message.c_str());
}

Result<ParsedArgs> parse_img_args(std::span<const std::string_view> args,
                                  std::span<const ImgOption> verb_specs, std::string_view verb,
                                  unsigned image_args) {
  std::vector<ImgOption> all(verb_specs.begin(), verb_specs.end());
  const size_t image_opts_index = all.size();
  all.push_back({0, (image_args & kImageOpts) != 0 ? "image-opts" : "", false});
  const size_t object_index = all.size();
  all.push_back({0, (image_args & kObject) != 0 ? "object" : "", true, Repeat::kAddsUp});
  std::span<const ImgOption> specs(all);
  const std::string hint = " (see 'vessel img " + std::string(verb) + " --help')";
  ParsedArgs out;
  bool options_done = false;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string_view arg = args[i];
    if (options_done || arg.size() < 2 || arg[0] != '-') {
      out.positional.emplace_back(arg);
      continue;
    }
    if (arg == "--") {
      options_done = true;
      continue;
    }
    if (arg.starts_with("--")) {
      std::string_view name = arg.substr(2);
      std::optional<std::string_view> inline_value;
      if (size_t eq = name.find('='); eq != std::string_view::npos) {
        inline_value = name.substr(eq + 1);
        name = name.substr(0, eq);
      }
      size_t found = specs.size();
      for (size_t s = 0; s < specs.size(); ++s) {
        if (!specs[s].long_name.empty() && specs[s].long_name == name) found = s;
      }
      if (found == specs.size()) {
        return Error("unknown option '--" + std::string(name) + "'" + hint);
      }
      std::string value;
      if (specs[found].takes_value) {
        if (inline_value) {
          value = *inline_value;
        } else if (i + 1 < args.size()) {
          value = args[++i];
        } else {
          return Error("option '--" + std::string(name) + "' needs a value" + hint);
        }
      } else if (inline_value) {
        return Error("option '--" + std::string(name) + "' takes no value" + hint);
      }
      out.options.emplace_back(found, std::move(value));
      continue;
    }
    // Short options, possibly grouped ("-pc") or with an attached value ("-fraw").
    for (size_t k = 1; k < arg.size(); ++k) {
      size_t found = specs.size();
      for (size_t s = 0; s < specs.size(); ++s) {
        if (specs[s].short_name != 0 && specs[s].short_name == arg[k]) found = s;
      }
      if (found == specs.size()) {
        return Error("unknown option '-" + std::string(1, arg[k]) + "'" + hint);
      }
      if (!specs[found].takes_value) {
        out.options.emplace_back(found, std::string());
        continue;
      }
      std::string value;
      if (k + 1 < arg.size()) {
        value = arg.substr(k + 1);
      } else if (i + 1 < args.size()) {
        value = args[++i];
      } else {
        return Error("option '-" + std::string(1, arg[k]) + "' needs a value" + hint);
      }
      out.options.emplace_back(found, std::move(value));
      break;
    }
  }
  // Earlier values of a kLastWins option are not seen (nor checked) at all.
  std::vector<bool> seen(specs.size(), false);
  std::vector<std::pair<size_t, std::string>> kept;
  for (auto it = out.options.rbegin(); it != out.options.rend(); ++it) {
    const ImgOption& spec = specs[it->first];
    if (spec.takes_value && spec.repeat == Repeat::kLastWins) {
      if (seen[it->first]) continue;
      seen[it->first] = true;
    }
    kept.push_back(std::move(*it));
  }
  out.options.clear();
  for (auto it = kept.rbegin(); it != kept.rend(); ++it) {
    if (it->first == image_opts_index) {
      out.image_opts = true;
    } else if (it->first == object_index) {
      out.objects.push_back(std::move(it->second));
    } else {
      out.options.push_back(std::move(*it));
    }
  }
  return out;
}

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

std::string snapshot_list_text(const std::vector<block::Qcow2Snapshot>& snapshots) {
  std::string out = "Snapshot list:\n" + block::snapshot_table_header() + "\n";
  for (const block::Qcow2Snapshot& s : snapshots) out += block::snapshot_table_row(s, s.id) + "\n";
  return out;
}

std::string json_string(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
          out += buf;
        } else {
          out += c;
        }
    }
  }
  out += '"';
  return out;
}

uint64_t allocated_bytes(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return 0;
  return static_cast<uint64_t>(st.st_blocks) * 512;
}

Result<block::ImageFormat> parse_format_option(std::string_view name) {
  if (name == "raw") return block::ImageFormat::kRaw;
  if (name == "qcow2") return block::ImageFormat::kQcow2;
  return Error("Unknown file format '" + std::string(name) + "' (supported: raw, qcow2)");
}

Result<CacheMode> parse_cache_mode(std::string_view mode) {
  using block::HostCache;
  // qemu's block.c, bdrv_parse_cache_mode(): "off"/"none" set BDRV_O_NOCACHE
  // (O_DIRECT) with a writeback cache, "directsync" O_DIRECT without one, and
  // "unsafe" adds BDRV_O_NO_FLUSH. Without a writeback cache qemu flushes
  // after every write; O_DSYNC makes each write durable in the same way.
  static constexpr struct {
    std::string_view name;
    CacheMode mode;
  } kModes[] = {
      {"none", {HostCache::kDirect, true}},
      {"off", {HostCache::kDirect, true}},
      {"directsync", {HostCache::kDirectSync, true}},
      {"writeback", {HostCache::kWriteback, true}},
      {"writethrough", {HostCache::kWritethrough, true}},
      {"unsafe", {HostCache::kWriteback, false}},
  };
  for (const auto& m : kModes) {
    if (m.name == mode) return m.mode;
  }
  return Error("invalid cache mode '" + std::string(mode) +
               "' (none, writeback, writethrough, directsync or unsafe)");
}

Result<bool> parse_output_is_json(std::string_view value) {
  if (value == "json") return true;
  if (value == "human") return false;
  return Error("--output must be human or json (got '" + std::string(value) + "')");
}

bool take_format_option(std::string_view value, std::string& format) {
  auto f = parse_format_option(value);
  if (!f) {
    fail(f.error().message());
    return false;
  }
  format = value;
  return true;
}

bool take_output_option(std::string_view value, bool& json) {
  auto is_json = parse_output_is_json(value);
  if (!is_json) {
    fail(is_json.error().message());
    return false;
  }
  json = *is_json;
  return true;
}

Result<void> expect_one_image(const ParsedArgs& parsed, std::string_view verb) {
  if (parsed.positional.size() == 1) return Ok();
  return Error("expecting one image file name (see 'vessel img " + std::string(verb) + " --help')");
}

Result<block::ImageFormat> probe_format(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) {
    return Error(path + ": " + std::strerror(errno));
  }
  if (S_ISDIR(st.st_mode)) return Error(path + ": is a directory");
  return block::probe_image_format(path);
}

block::Qcow2OpenOptions qcow2_open_options(bool writable, const CacheMode& cache,
                                           const SnapshotRef& snapshot) {
  block::Qcow2OpenOptions options;
  options.access = writable ? block::Access::kReadWrite : block::Access::kReadOnly;
  options.sync = cache.flush;
  options.host_cache = cache.host_cache;
  options.snapshot_id = snapshot.id;
  options.snapshot_name = snapshot.name;
  return options;
}

Result<OpenedImage> open_image(const std::string& path, const std::string& format, bool writable,
                               CacheMode cache, const SnapshotRef& snapshot) {
  OpenedImage image;
  if (!format.empty()) {
    TRY_ASSIGN(image.format, parse_format_option(format));
  } else {
    TRY_ASSIGN(image.format, probe_format(path));
  }
  if (image.format == block::ImageFormat::kQcow2) {
    TRY_ASSIGN(auto q,
               block::Qcow2Image::open(path, qcow2_open_options(writable, cache, snapshot)));
    image.qcow2 = q.get();
    image.backend = std::move(q);
  } else {
    if (!snapshot.empty()) {
      return Error(path +
                   ": Failed to load snapshot: the raw format has no internal snapshots to load");
    }
    TRY_ASSIGN(auto raw, block::RawFile::open(path, !writable, cache.host_cache));
    raw->set_sync_enabled(cache.flush);
    image.backend = std::move(raw);
  }
  return image;
}

// qemu's progress rule (util/qemu-progress.c): a line when more than 1 %
// was done since the last one, and at 100 %; the end repeats 100 % on a
// line of its own.
void Progress::update(uint64_t done, uint64_t total) {
  if (!enabled_) return;
  double percent =
      total == 0 ? 100.0 : 100.0 * static_cast<double>(done) / static_cast<double>(total);
  if (last_ >= 0 && percent - last_ <= 1.0 && percent < 100.0) return;
  if (last_ >= 100.0) return;
  last_ = percent;
  std::fprintf(stderr, "    (%3.2f/100%%)\r", percent);
  std::fflush(stderr);
}

void Progress::finish() {
  if (!enabled_) return;
  update(1, 1);
  std::fprintf(stderr, "    (100.00/100%%)\n");
  std::fflush(stderr);
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

}  // namespace vessel::cli::img
