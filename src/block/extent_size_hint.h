// The extent size hint of a new image file, as QEMU's file protocol sets it
// (block/file-posix.c, option extent_size_hint): FS_IOC_FSSETXATTR with
// FS_XFLAG_EXTSIZE, which XFS uses to allocate a sparse file's blocks in
// extents of that size, so that an image filled piecemeal does not end up
// in thousands of small fragments. Other file systems take the ioctl and
// ignore the hint (ext4) or refuse it (tmpfs): it is advice, never an error.
#pragma once

#include <cstdint>

#include "base/result.h"

namespace vessel::block {

// QEMU sets 1 MiB on every file it creates unless told otherwise; the
// fsxattr field is 32 bits wide.
inline constexpr uint64_t kDefaultExtentSizeHint = uint64_t{1} << 20;
inline constexpr uint64_t kMaxExtentSizeHint = UINT32_MAX;

// Sets the hint on `fd`, a new file with no blocks yet (XFS refuses to change
// the hint of a file that has some). The error is the reason alone
// ("Operation not supported"), for the caller's warning.
Result<void> set_extent_size_hint(int fd, uint32_t bytes);

}  // namespace vessel::block
