// The image arguments of a `vessel img` command line: --image-opts, the
// --object definitions and -f, read into the image layer's specs
// (storage/image_spec.h) with qemu-img's help and errors.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "cli/img_common.h"
#include "storage/image_spec.h"

namespace vessel::cli::img {

using storage::ImageNameSyntax;
using storage::ImageSecret;
using storage::ImageSpec;
using storage::open_image;

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

}  // namespace vessel::cli::img
