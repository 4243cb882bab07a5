// Shared pieces of `vessel img`: qemu-img style argument parsing, sizes,
// opening images by format, human-readable sizes, JSON strings and the
// progress bar.
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

namespace vessel::cli::img {

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

// qemu-img's sizes: a bare number is bytes, decimal or hex ("0x10000");
// suffixes k/K, M, G, T, P, E (powers of 1024) with an optional fraction
// ("1.5G"). "B" alone means bytes.
Result<uint64_t> parse_img_size(std::string_view text);

// The non-empty items of "-o" lists ("key=value,key=value"; each -o adds a
// list), in order, as written.
std::vector<std::string> img_option_items(std::span<const std::string> lists);

// The items of "-o" lists split at their '=', in order. An item without '='
// ("help", "?") comes back with an empty value.
std::vector<std::pair<std::string, std::string>> split_img_options(
    std::span<const std::string> lists);

// qemu's booleans: on/off (also yes/no, true/false), with its error text.
Result<bool> parse_img_bool(std::string_view key, std::string_view value);

// A JSON string literal for `text`.
std::string json_string(std::string_view text);

// Bytes the file occupies on the host (st_blocks * 512); 0 when unknown.
uint64_t allocated_bytes(const std::string& path);

// qemu-img's "-t"/"-T" cache modes, as qemu's bdrv_parse_cache_mode() reads
// them: how the image file meets the host page cache, and whether flushes
// reach the disk.
struct CacheMode {
  block::HostCache host_cache = block::HostCache::kWriteback;
  bool flush = true;  // false for "unsafe": never fdatasync
};
// none (or off), directsync, writeback, writethrough, unsafe.
Result<CacheMode> parse_cache_mode(std::string_view mode);

struct OpenedImage {
  block::ImageFormat format = block::ImageFormat::kRaw;
  std::unique_ptr<block::BlockBackend> backend;
  block::Qcow2Image* qcow2 = nullptr;  // backend as qcow2, or nullptr for raw
};

// An internal snapshot to read instead of the active disk (convert -l): the
// one whose ID and name match those given; an empty one matches any.
struct SnapshotRef {
  std::string id;
  std::string name;
  bool empty() const { return id.empty() && name.empty(); }
};

// The format of `path` as its content shows it (qcow2 magic, else raw),
// without opening it as that format. Errors name the file.
Result<block::ImageFormat> probe_format(const std::string& path);

// How open_image() opens a qcow2 image with these settings.
block::Qcow2OpenOptions qcow2_open_options(bool writable, const CacheMode& cache,
                                           const SnapshotRef& snapshot);

// Opens `path` as `format`, or probes it when `format` is empty. Errors name
// the file. `cache`: qemu-img's default, writeback, unless given.
Result<OpenedImage> open_image(const std::string& path, const std::string& format, bool writable,
                               CacheMode cache = {}, const SnapshotRef& snapshot = {});

// "-f FMT" value check: raw or qcow2, with an error in qemu-img's words.
Result<block::ImageFormat> parse_format_option(std::string_view name);

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

// A backing file name as qcow2 stores it, made usable from here.
using block::resolve_backing_path;

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

// The whole-zero test used for sparse detection.
bool is_zero(std::span<const uint8_t> data);

}  // namespace vessel::cli::img
