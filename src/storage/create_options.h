// The "-o" options of a new image (qemu-img create's, also taken by convert
// -O): parsed once here for both verbs, with qemu-img's checks and words;
// and the making of a new raw image file from them.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "base/result.h"
#include "block/image_format.h"
#include "block/qcow2.h"
#include "storage/image_open.h"

namespace vessel::storage {

struct ImgCreateOptions {
  block::Qcow2CreateOptions qcow2;
  std::string raw_preallocation = "off";  // off, falloc or full
  std::optional<uint64_t> size;
  std::string backing_file, backing_format;  // -o backing_file=, backing_fmt=
  bool compat_given = false;
  bool refcount_bits_given = false;
  bool data_file_raw_given = false;  // printed on the "Formatting" line only then
  // The new files' extent size hint (block/extent_size_hint.h), both formats.
  uint64_t extent_size_hint = block::kDefaultExtentSizeHint;
  bool extent_size_hint_given = false;
  bool help = false;  // "-o help" or "-o ?": show create_options_help(), nothing else to do
};

// Parses the items of every -o list for an image of `format`.
Result<ImgCreateOptions> parse_img_create_options(block::ImageFormat format,
                                                  std::span<const std::string> lists);

// qemu-img's list of the options of `format` ("-o help").
std::string create_options_help(block::ImageFormat format);

// qemu-img's complaint about an extent_size_hint that is no size.
std::string extent_size_hint_error();

// The checks that need every option: the version 2 limits.
Result<void> check_img_create_options(const std::string& path, const ImgCreateOptions& o);

// qemu-img's "Formatting 'path', fmt=qcow2 ..." line, without the newline.
std::string qcow2_formatting_line(const std::string& path, const ImgCreateOptions& o);
std::string raw_formatting_line(const std::string& path, uint64_t size, const ImgCreateOptions& o);

// The qcow2 create options with the extent size hint settled: a warning
// when the hint was asked for and cannot be set.
block::Qcow2CreateOptions qcow2_create_options(const ImgCreateOptions& o, const Warn& warn);

// A new raw image of `size` bytes at `path` (replacing any file there), with
// the options' preallocation and extent size hint (a hint asked for and not
// set is a warning).
Result<void> create_raw_image(const std::string& path, uint64_t size, const ImgCreateOptions& o,
                              const Warn& warn);

}  // namespace vessel::storage
