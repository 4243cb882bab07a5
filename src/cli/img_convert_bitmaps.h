// `vessel img convert --bitmaps`: the persistent dirty bitmaps of a qcow2
// source copied into a qcow2 (version 3) target once the data is, with
// qemu-img's checks, order and words (qemu-img.c: convert_check_bitmaps,
// convert_copy_bitmaps).
#pragma once

#include <string>

#include "base/result.h"
#include "cli/img_common.h"

namespace vessel::cli::img {

// Before the target is created: a source that can have bitmaps (qcow2,
// version 3), without an inconsistent one unless `skip_broken`.
Result<void> check_convert_bitmaps(const OpenedImage& source, bool skip_broken);

// Once the target is open: a format that can store them.
Result<void> check_convert_bitmap_target(const OpenedImage& target);

// After the data: each bitmap of the source added to the target with its
// granularity, enabled or not, and bits; inconsistent ones skipped with a
// warning (`skip_broken`). The names are the images as the user gave them.
// As with qemu-img, the bitmaps added before a failure stay.
Result<void> copy_convert_bitmaps(block::Qcow2Image& source, const std::string& source_name,
                                  block::Qcow2Image& target, const std::string& target_name,
                                  bool skip_broken);

}  // namespace vessel::cli::img
