// The "-o" options of a new image (qemu-img create's, also taken by convert
// -O): parsed once here for both verbs, with qemu-img's checks and words.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "base/result.h"
#include "block/image_format.h"
#include "block/qcow2.h"

namespace vessel::cli::img {

struct ImgCreateOptions {
  block::Qcow2CreateOptions qcow2;
  std::string raw_preallocation = "off";  // off, falloc or full
  std::optional<uint64_t> size;
  std::string backing_file, backing_format;  // -o backing_file=, backing_fmt=
  bool compat_given = false;
  bool refcount_bits_given = false;
  bool data_file_raw_given = false;  // printed on the "Formatting" line only then
  bool help = false;  // "-o help" or "-o ?": the list was printed, nothing else to do
};

// Parses the items of every -o list for an image of `format`.
Result<ImgCreateOptions> parse_img_create_options(block::ImageFormat format,
                                                  std::span<const std::string> lists);

// The checks that need every option: the version 2 limits.
Result<void> check_img_create_options(const std::string& path, const ImgCreateOptions& o);

// qemu-img's "Formatting 'path', fmt=qcow2 ..." line, without the newline.
std::string qcow2_formatting_line(const std::string& path, const ImgCreateOptions& o);

}  // namespace vessel::cli::img
