// What an image is: format, sizes, qcow2 header details, snapshots, bitmaps,
// backing file; for one image or its whole backing chain (qemu-img info's
// facts, which the command line prints in qemu-img's human and JSON forms).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/result.h"
#include "block/qcow2.h"
#include "storage/image_spec.h"

namespace vessel::storage {

struct ImageInfo {
  std::string filename;
  std::string format;
  uint64_t virtual_size = 0;
  uint64_t actual_size = 0;
  bool dirty = false;
  bool is_qcow2 = false;
  block::Qcow2Info q;
  std::vector<block::Qcow2Snapshot> snapshots;
  std::vector<block::Qcow2Bitmap> bitmaps;
  std::string full_backing;  // the backing file as found from here
};

// One image, opened read-only.
Result<ImageInfo> describe_image(const ImageSpec& spec);

enum class InfoScope : uint8_t { kImage, kBackingChain };

// The image `top` names, and with kBackingChain each backing file below it,
// top first (followed by name even when `top` says "backing": null, as
// qemu-img info --backing-chain does).
Result<std::vector<ImageInfo>> describe_images(ImageSpec top, InfoScope scope);

}  // namespace vessel::storage
