#include "block/extent_size_hint.h"

#include <linux/fs.h>
#include <sys/ioctl.h>

#include <cerrno>
#include <cstring>

namespace vessel::block {

Result<void> set_extent_size_hint(int fd, uint32_t bytes) {
  struct fsxattr attr {};
  int rc;
  do {
    rc = ioctl(fd, FS_IOC_FSGETXATTR, &attr);
  } while (rc != 0 && errno == EINTR);
  if (rc == 0) {
    attr.fsx_xflags |= FS_XFLAG_EXTSIZE;
    attr.fsx_extsize = bytes;
    do {
      rc = ioctl(fd, FS_IOC_FSSETXATTR, &attr);
    } while (rc != 0 && errno == EINTR);
  }
  if (rc != 0) {
    // ENOTTY: no such ioctl here; QEMU reports that as "not supported".
    return Error(std::strerror(errno == ENOTTY ? EOPNOTSUPP : errno));
  }
  return Ok();
}

}  // namespace vessel::block
