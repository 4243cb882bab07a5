#include "block/raw_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

namespace vessel::block {
namespace {

// pread/pwrite move at most this much per call on Linux; asking for less keeps
// the count within ssize_t on every host.
constexpr uint64_t kMaxChunk = uint64_t{1} << 30;

std::string describe(const std::string& path, int err) {
  return path + ": " + strerror(err);
}

}  // namespace

Result<std::unique_ptr<RawFile>> RawFile::open(const std::string& path, bool read_only) {
  int flags = (read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC;
  int fd;
  do {
    fd = ::open(path.c_str(), flags);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) {
    int err = errno;
    if (err == EACCES || err == EROFS) {
      return Error(path + ": permission denied" +
                   (read_only ? std::string() : " (open it read-only if it must not change)"));
    }
    if (err == ENOENT) return Error(path + ": no such file");
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
  // SEEK_END gives the size of regular files and block devices alike.
  off_t end = lseek(fd, 0, SEEK_END);
  if (end < 0) {
    int err = errno;
    ::close(fd);
    return Error("cannot determine the size of " + describe(path, err));
  }
  return std::unique_ptr<RawFile>(new RawFile(fd, path, static_cast<uint64_t>(end), read_only));
}

RawFile::~RawFile() {
  ::close(fd_);
}

Result<void> RawFile::check_range(const char* what, uint64_t offset, uint64_t length) const {
  if (offset > size_ || length > size_ - offset) {
    return Error(path_ + ": " + what + " of " + std::to_string(length) + " bytes at offset " +
                 std::to_string(offset) + " is beyond the end of the image (" +
                 std::to_string(size_) + " bytes)");
  }
  return Ok();
}

Result<void> RawFile::read(uint64_t offset, std::span<uint8_t> out) {
  TRY(check_range("read", offset, out.size()));
  uint64_t done = 0;
  while (done < out.size()) {
    uint64_t chunk = std::min<uint64_t>(out.size() - done, kMaxChunk);
    ssize_t n = pread(fd_, out.data() + done, chunk, static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return Error("read error on " + describe(path_, errno));
    }
    if (n == 0) {
      return Error(path_ + ": unexpected end of file at offset " + std::to_string(offset + done) +
                   " (was the image truncated?)");
    }
    done += static_cast<uint64_t>(n);
  }
  return Ok();
}

Result<void> RawFile::write(uint64_t offset, std::span<const uint8_t> data) {
  if (read_only_) return Error(path_ + ": image is read-only");
  TRY(check_range("write", offset, data.size()));
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

Result<void> RawFile::flush() {
  int rc;
  do {
    rc = fdatasync(fd_);
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) return Error("cannot flush " + describe(path_, errno));
  return Ok();
}

}  // namespace vessel::block
