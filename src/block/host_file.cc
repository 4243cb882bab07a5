#include "block/host_file.h"

#include <fcntl.h>
#include <linux/falloc.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "block/extent_size_hint.h"

namespace vessel::block {
namespace {

// pread/pwrite move at most about this much per call on Linux.
constexpr uint64_t kMaxChunk = uint64_t{1} << 30;
// Offsets must stay representable as off_t.
constexpr uint64_t kMaxOffset = uint64_t{1} << 62;

std::string describe(const std::string& path, int err) {
  return path + ": " + strerror(err);
}

Result<void> check_range(const std::string& path, uint64_t offset, uint64_t length) {
  if (offset > kMaxOffset || length > kMaxOffset - offset) {
    return Error(path + ": offset " + std::to_string(offset) + " is out of range");
  }
  return Ok();
}

}  // namespace

HostFile::HostFile(int fd, std::string path, uint64_t size, FileIdentity identity, Access access)
    : fd_(fd), path_(std::move(path)), size_(size), identity_(identity), access_(access) {}

HostFile::~HostFile() {
  ::close(fd_);
}

Result<std::unique_ptr<HostFile>> HostFile::open(const std::string& path, Access access,
                                                 HostCache cache) {
  const bool direct = cache == HostCache::kDirect || cache == HostCache::kDirectSync;
  const bool dsync = cache == HostCache::kWritethrough || cache == HostCache::kDirectSync;
  int flags = (access == Access::kReadOnly ? O_RDONLY : O_RDWR) | O_CLOEXEC;
  if (direct) flags |= O_DIRECT;
  if (dsync) flags |= O_DSYNC;
  int fd;
  do {
    fd = ::open(path.c_str(), flags);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) {
    int err = errno;
    if (err == ENOENT) return Error(path + ": no such file");
    if (err == EACCES || err == EROFS) return Error(path + ": permission denied");
    // open(2): "EINVAL The filesystem does not support the O_DIRECT flag."
    // qemu (file-posix.c) reports it in the same words.
    if (err == EINVAL && direct) {
      return Error(path +
                   ": filesystem does not support O_DIRECT (which cache modes none and directsync "
                   "use; writeback and writethrough do not)");
    }
    return Error("cannot open " + describe(path, err));
  }
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return Error("cannot stat " + describe(path, err));
  }
  if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
    ::close(fd);
    return Error(path + ": not a regular file or block device");
  }
  off_t end = lseek(fd, 0, SEEK_END);
  if (end < 0) {
    int err = errno;
    ::close(fd);
    return Error("cannot determine the size of " + describe(path, err));
  }
  std::unique_ptr<HostFile> file(new HostFile(fd, path, static_cast<uint64_t>(end),
                                              FileIdentity{st.st_dev, st.st_ino}, access));
  if (direct) {
    TRY_ASSIGN(file->direct_, direct_io_for(fd, path));
  }
  return file;
}

Result<std::unique_ptr<HostFile>> HostFile::create(const std::string& path) {
  int fd;
  do {
    fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) return Error("cannot create " + describe(path, errno));
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return Error("cannot stat " + describe(path, err));
  }
  return std::unique_ptr<HostFile>(
      new HostFile(fd, path, 0, FileIdentity{st.st_dev, st.st_ino}, Access::kReadWrite));
}

Result<void> HostFile::set_extent_size_hint(uint32_t bytes) {
  return block::set_extent_size_hint(fd_, bytes);
}

Result<uint64_t> HostFile::pread_some(uint64_t offset, std::span<uint8_t> out) const {
  uint64_t done = 0;
  while (done < out.size()) {
    uint64_t chunk = std::min<uint64_t>(out.size() - done, kMaxChunk);
    ssize_t n = pread(fd_, out.data() + done, chunk, static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return Error("read error on " + describe(path_, errno));
    }
    if (n == 0) break;  // the end of the file
    done += static_cast<uint64_t>(n);
  }
  return done;
}

Result<void> HostFile::read(uint64_t offset, std::span<uint8_t> out) const {
  TRY(check_range(path_, offset, out.size()));
  if (direct_ != nullptr) return read_direct(offset, out);
  TRY_ASSIGN(uint64_t got, pread_some(offset, out));
  if (got < out.size()) {
    return Error(path_ + ": unexpected end of file at offset " + std::to_string(offset + got) +
                 " (was the image truncated?)");
  }
  return Ok();
}

Result<void> HostFile::read_padded(uint64_t offset, std::span<uint8_t> out) const {
  const uint64_t size = size_.load(std::memory_order_relaxed);
  uint64_t available = offset < size ? std::min<uint64_t>(size - offset, out.size()) : 0;
  if (available > 0) TRY(read(offset, out.first(available)));
  std::fill(out.begin() + static_cast<ptrdiff_t>(available), out.end(), 0);
  return Ok();
}

Result<void> HostFile::pwrite_all(uint64_t offset, std::span<const uint8_t> data) {
  uint64_t done = 0;
  while (done < data.size()) {
    uint64_t chunk = std::min<uint64_t>(data.size() - done, kMaxChunk);
    ssize_t n = pwrite(fd_, data.data() + done, chunk, static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return Error("write error on " + describe(path_, errno));
    }
    if (n == 0) return Error("write error on " + path_ + ": no progress");
    done += static_cast<uint64_t>(n);
  }
  return Ok();
}

void HostFile::grow_to(uint64_t end) {
  uint64_t old = size_.load(std::memory_order_relaxed);
  while (old < end && !size_.compare_exchange_weak(old, end, std::memory_order_relaxed)) {
  }
}

Result<void> HostFile::write(uint64_t offset, std::span<const uint8_t> data) {
  if (access_ == Access::kReadOnly) return Error(path_ + ": image is read-only");
  TRY(check_range(path_, offset, data.size()));
  if (direct_ != nullptr) return write_direct(offset, data);
  TRY(pwrite_all(offset, data));
  grow_to(offset + data.size());
  return Ok();
}

Result<bool> HostFile::zero_range(uint64_t offset, uint64_t length, bool deallocate) {
  if (access_ == Access::kReadOnly) return Error(path_ + ": image is read-only");
  TRY(check_range(path_, offset, length));
  int mode = FALLOC_FL_KEEP_SIZE | (deallocate ? FALLOC_FL_PUNCH_HOLE : FALLOC_FL_ZERO_RANGE);
  int rc;
  do {
    rc = fallocate(fd_, mode, static_cast<off_t>(offset), static_cast<off_t>(length));
  } while (rc != 0 && errno == EINTR);
  if (rc == 0) return true;
  if (errno == EOPNOTSUPP || errno == ENOSYS || errno == ENODEV) return false;
  return Error("cannot zero a range of " + describe(path_, errno));
}

Result<bool> HostFile::is_hole(uint64_t offset, uint64_t length) const {
  TRY(check_range(path_, offset, length));
  const uint64_t size = size_.load(std::memory_order_relaxed);
  if (length == 0 || offset >= size) return false;
  off_t data = lseek(fd_, static_cast<off_t>(offset), SEEK_DATA);
  if (data < 0) {
    // ENXIO: no data from `offset` to the end of the file. Anything else
    // (EINVAL where SEEK_DATA is not supported): unknown.
    return errno == ENXIO && offset + length <= size;
  }
  return static_cast<uint64_t>(data) >= offset + length;
}

Result<void> HostFile::truncate(uint64_t length) {
  if (access_ == Access::kReadOnly) return Error(path_ + ": image is read-only");
  TRY(check_range(path_, length, 0));
  // A direct write that ends in a partial block trims the file back to its
  // size under this lock (host_file_direct.cc): the size must not move then.
  std::unique_lock<std::mutex> lock;
  if (direct_ != nullptr) lock = std::unique_lock<std::mutex>(direct_->mu);
  int rc;
  do {
    rc = ftruncate(fd_, static_cast<off_t>(length));
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) return Error("cannot resize " + describe(path_, errno));
  size_.store(length, std::memory_order_relaxed);
  return Ok();
}

Result<void> HostFile::sync() {
  if (!sync_enabled_) return Ok();
  int rc;
  do {
    rc = fdatasync(fd_);
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) return Error("cannot flush " + describe(path_, errno));
  return Ok();
}

}  // namespace vessel::block
