// How `vessel img` verbs name their images, in every spelling qemu-img
// takes: a file name, "file:PATH", "json:{...}" (nested or flattened
// "file.filename" keys) and, with --image-opts, "driver=qcow2,file.filename=
// PATH" (",," for a comma in a value); and qemu's --object definitions
// (only "secret" exists here, for qemu-img's command lines that carry one).
// Every spelling is read into qemu's flat block options and checked in one
// place; the errors are qemu-img's, after "Could not open 'NAME': ".
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "cli/img_common.h"

namespace vessel::cli::img {

// One image, as a verb opens it.
struct ImageSpec {
  std::string name;    // as the user gave it (qemu-img quotes it in errors)
  std::string path;    // the image file
  std::string format;  // "raw" or "qcow2"; empty: probed
  bool read_only = false;
  // cache.direct and cache.no-flush, when given: they override the verb's
  // cache mode.
  std::optional<bool> cache_direct = std::nullopt;
  std::optional<bool> cache_no_flush = std::nullopt;
  uint64_t l2_cache_bytes = 0;  // 0: the default
  bool no_backing = false;      // "backing": null
  // The verb's cache mode with the options above applied.
  CacheMode cache(CacheMode mode) const;
};

// A secret from --object secret,id=ID,data=DATA|file=PATH[,format=raw|base64].
struct ImageSecret {
  std::string id;
  std::string value;  // decoded
};

// How a name on the command line is read: a file name (or "file:", "json:"
// name), or an --image-opts list.
enum class ImageNameSyntax : uint8_t { kName, kImageOpts };

// The image arguments of one command line: --image-opts, the --object
// definitions, -f.
class ImageArgs {
 public:
  // Checks the --object definitions in order.
  // `help_printed`: "--object help" (or "secret,help") printed its list, and
  // the verb is done.
  static Result<ImageArgs> from(const ParsedArgs& parsed, const std::string& format);

  // The image that positional argument `name` names; `format` is the verb's
  // -f for this image (compare has two), empty when none.
  Result<ImageSpec> spec(const std::string& name, const std::string& format) const;
  Result<ImageSpec> spec(const std::string& name) const { return spec(name, format_); }
  // The same, read in `syntax` whatever --image-opts says: for names that
  // qemu-img reads apart from it (convert's --target-image-opts output,
  // bitmap's -b source, which is always a file name).
  Result<ImageSpec> spec(const std::string& name, const std::string& format,
                         ImageNameSyntax syntax) const;

  bool image_opts() const { return image_opts_; }
  bool help_printed() const { return help_printed_; }
  const std::vector<ImageSecret>& secrets() const { return secrets_; }

 private:
  bool image_opts_ = false;
  bool help_printed_ = false;
  std::string format_;
  std::vector<ImageSecret> secrets_;
};

// ImageArgs::from() as the verbs use it: on an error (printed; status 1) or
// after "--object help" (status 0) nullopt, with the verb's exit status in
// `status`.
std::optional<ImageArgs> take_image_args(const ParsedArgs& parsed, const std::string& format,
                                         int& status);

// The help paragraph on image names, --image-opts and --object, for the
// image arguments (ImageArgFlags) a verb takes.
void print_image_args_help(unsigned flags);

// One --object argument (keyval "TYPE,id=ID,..." or a JSON object), added to
// `secrets`. Returns false when it asked for help, which was printed.
Result<bool> add_image_object(std::string_view text, std::vector<ImageSecret>& secrets);

// Opens the image `spec` names (see open_image in img_common.h).
Result<OpenedImage> open_image(const ImageSpec& spec, bool writable, CacheMode cache = {},
                               const SnapshotRef& snapshot = {});

}  // namespace vessel::cli::img
