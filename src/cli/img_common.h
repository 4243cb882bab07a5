// Shared pieces of `vessel img`: qemu-img style argument parsing, the
// checks of its common options, JSON strings and the progress bar. Sizes,
// option values and the opening of images are the image layer's
// (storage/image_values.h, storage/image_open.h), named here for the verbs.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "base/size_text.h"
#include "block/block_backend.h"
#include "block/image_format.h"
#include "block/qcow2.h"
#include "storage/image_open.h"
#include "storage/image_values.h"

namespace vessel::cli::img {

// The image layer's values and opening, under the names the verbs use.
using storage::allocated_bytes;
using storage::CacheMode;
using storage::img_option_items;
using storage::is_zero;
using storage::open_image;
using storage::OpenedImage;
using storage::parse_cache_mode;
using storage::parse_format_option;
using storage::parse_img_bool;
using storage::parse_img_size;
using storage::probe_format;
using storage::qcow2_open_options;
using storage::resolve_backing_path;
using storage::SnapshotRef;
using storage::split_img_options;

// qemu-img's exit status for every error of its own (bad option, bad file).
inline constexpr int kExitError = 1;

// Prints "vessel: error: MESSAGE" and returns kExitError.
int fail(const std::string& message);
// Prints "vessel: warning: MESSAGE".
void warn(const std::string& message);

// What a repeated option with a value means: as in qemu-img, the last one
// counts ("-f foo -f qcow2" is qcow2), except for lists that add up ("-o").
enum class Repeat : uint8_t { kLastWins, kAddsUp };

// One option of a verb: short ("-f") and/or long ("--output") spelling.
struct ImgOption {
  char short_name;             // 0: none
  std::string_view long_name;  // without dashes; empty: none
  bool takes_value;
  Repeat repeat = Repeat::kLastWins;
};

struct ParsedArgs {
  // Each option found, in order: (index into the spec list, value); of a
  // kLastWins option only the last occurrence.
  std::vector<std::pair<size_t, std::string>> options;
  std::vector<std::string> positional;
  // The image arguments (see ImageArgFlags), when the verb takes them.
  bool image_opts = false;
  std::vector<std::string> objects = {};
};

// Which of qemu-img's image arguments a verb takes besides its own options
// (qemu-img bench, for one, has --image-opts but no --object); they are read
// by ImageArgs (img_image_spec.h).
enum ImageArgFlags : unsigned {
  kNoImageArgs = 0,
  kImageOpts = 1,  // --image-opts
  kObject = 2,     // --object (repeatable)
  kImageArgs = kImageOpts | kObject,
};

// qemu-img's getopt style: "-f qcow2", "-fqcow2", "-pc" (grouped flags),
// "--output json", "--output=json", "--" ends the options. "-h"/"--help"
// must be in the specs when a verb accepts it. `image_args`: the image
// arguments the verb takes, which land in ParsedArgs::image_opts and
// ::objects rather than ::options.
Result<ParsedArgs> parse_img_args(std::span<const std::string_view> args,
                                  std::span<const ImgOption> specs, std::string_view verb,
                                  unsigned image_args = kNoImageArgs);

// A JSON string literal for `text`.
std::string json_string(std::string_view text);

// "--output human|json": true for json.
Result<bool> parse_output_is_json(std::string_view value);

// The option loops' steps for the two options most verbs take: check the
// value and store it (the format name as given; json or not), or print the
// error and return false.
bool take_format_option(std::string_view value, std::string& format);
bool take_output_option(std::string_view value, bool& json);

// Checks that a verb taking one image file name got exactly one positional
// argument; the error points to the verb's --help.
Result<void> expect_one_image(const ParsedArgs& parsed, std::string_view verb);

// qemu-img's "-p" progress: "    (12.50/100%)" rewritten in place on stderr.
class Progress {
 public:
  explicit Progress(bool enabled) : enabled_(enabled) {}
  void update(uint64_t done, uint64_t total);
  void finish();

 private:
  bool enabled_;
  double last_ = -1;  // the percentage last printed
};

// qemu-img's snapshot listing (snapshot -l, info): "Snapshot list:", the
// column header, one line per snapshot (dates in local time).
std::string snapshot_list_text(const std::vector<block::Qcow2Snapshot>& snapshots);

}  // namespace vessel::cli::img
