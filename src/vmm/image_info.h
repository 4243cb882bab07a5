// QMP's ImageInfo of a disk's image and, nested as "backing-image", of each
// image below it (query-block's "image"), the way QEMU 7.2 reports them.
#pragma once

#include "block/block_backend.h"
#include "vmm/qmp_server.h"

namespace vessel::vmm {

Json image_info(const block::BlockBackend& image);
// How many images lie below `image` (BlockDeviceInfo's backing_file_depth).
int backing_depth(const block::BlockBackend& image);

}  // namespace vessel::vmm
