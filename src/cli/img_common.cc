#include "cli/img_common.h"

#include <cstdio>
#include <utility>

#include "block/qcow2_snapshot_text.h"

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

}  // namespace vessel::cli::img
