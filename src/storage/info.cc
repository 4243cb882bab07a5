#include "storage/info.h"

#include <utility>

#include "storage/image_values.h"

namespace vessel::storage {

Result<ImageInfo> describe_image(const ImageSpec& spec) {
  const std::string& path = spec.path;
  TRY_ASSIGN(OpenedImage image, open_image(spec, false));
  ImageInfo d;
  d.filename = path;
  d.format = block::image_format_name(image.format);
  d.virtual_size = image.backend->size();
  d.actual_size = allocated_bytes(path);
  if (image.qcow2 != nullptr) {
    d.is_qcow2 = true;
    d.q = image.qcow2->info();
    d.dirty = d.q.dirty;
    d.snapshots = image.qcow2->snapshots();
    d.bitmaps = image.qcow2->bitmaps();
    if (!d.q.backing_file.empty()) {
      d.full_backing = resolve_backing_path(path, d.q.backing_file);
    }
  }
  return d;
}

Result<std::vector<ImageInfo>> describe_images(ImageSpec spec, InfoScope scope) {
  std::vector<ImageInfo> list;
  while (true) {
    auto d = describe_image(spec);
    if (!d) return d.error();
    list.push_back(std::move(*d));
    const ImageInfo& last = list.back();
    // As qemu-img: the chain is listed by name, "backing": null or not.
    if (scope == InfoScope::kImage || !last.is_qcow2 || last.q.backing_file.empty()) break;
    if (list.size() > 64) return Error(spec.path + ": backing chain is too deep");
    ImageSpec next;
    next.name = next.path = last.full_backing;
    next.format = last.q.backing_format;
    spec = std::move(next);
  }
  return list;
}

}  // namespace vessel::storage
