// Disk image formats by name, and probing by content. Probing is only for
// images that no guest can write (backing files without a recorded format, a
// tool's read-only look): a guest that writes a qcow2 header into a raw disk
// must not turn it into a qcow2 image that points at host files.
#pragma once

#include <string>
#include <string_view>

#include "base/result.h"

namespace vessel::block {

enum class ImageFormat { kRaw, kQcow2 };

const char* image_format_name(ImageFormat format);
// "raw" or "qcow2".
Result<ImageFormat> parse_image_format(std::string_view name);
// qcow2 when the file starts with the qcow2 magic, raw otherwise.
Result<ImageFormat> probe_image_format(const std::string& path);

}  // namespace vessel::block
