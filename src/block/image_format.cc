#include "block/image_format.h"

#include "block/host_file.h"
#include "block/qcow2_format.h"

namespace vessel::block {

const char* image_format_name(ImageFormat format) {
  return format == ImageFormat::kQcow2 ? "qcow2" : "raw";
}

Result<ImageFormat> parse_image_format(std::string_view name) {
  if (name == "raw") return ImageFormat::kRaw;
  if (name == "qcow2") return ImageFormat::kQcow2;
  return Error("unsupported image format \"" + std::string(name) + "\" (use raw or qcow2)");
}

Result<ImageFormat> probe_image_format(const std::string& path) {
  TRY_ASSIGN(auto file, HostFile::open(path, Access::kReadOnly));
  uint8_t magic[4] = {};
  TRY(file->read_padded(0, magic));
  return qcow2::load_be32(magic) == qcow2::kMagic ? ImageFormat::kQcow2 : ImageFormat::kRaw;
}

}  // namespace vessel::block
