#include "host_io_journal.h"

#include <fcntl.h>
#include <linux/falloc.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <mutex>
#include <utility>

// Offsets pass through as off_t; on a 32-bit host with 64-bit file offsets
// glibc would route these calls to pwrite64 and friends, which are not wrapped.
static_assert(sizeof(off_t) == 8 && sizeof(long) == 8, "the journal wraps the LP64 entry points");

namespace vessel::block::testing {
namespace {

struct Journal {
  std::mutex mu;
  bool active = false;
  dev_t device = 0;
  ino_t inode = 0;
  HostIoRecord record;
};

Journal& journal() {
  static Journal j;
  return j;
}

// Runs `record` under the journal's lock when `fd` names the journaled file.
// errno is what the wrapped call left, whatever fstat does.
template <typename Record>
void on_journaled_file(int fd, Record record) {
  Journal& j = journal();
  int saved_errno = errno;
  std::lock_guard<std::mutex> lock(j.mu);
  struct stat st;
  if (j.active && fstat(fd, &st) == 0 && st.st_dev == j.device && st.st_ino == j.inode) {
    record(j.record);
  }
  errno = saved_errno;
}

void unmodeled(int fd, const char* call) {
  on_journaled_file(fd, [&](HostIoRecord& r) { r.unmodeled.emplace_back(call); });
}

}  // namespace

bool start_host_io_journal(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return false;
  Journal& j = journal();
  std::lock_guard<std::mutex> lock(j.mu);
  j.active = true;
  j.device = st.st_dev;
  j.inode = st.st_ino;
  j.record = {};
  return true;
}

size_t host_io_journal_position() {
  Journal& j = journal();
  std::lock_guard<std::mutex> lock(j.mu);
  return j.record.ops.size();
}

HostIoRecord stop_host_io_journal() {
  Journal& j = journal();
  std::lock_guard<std::mutex> lock(j.mu);
  j.active = false;
  return std::exchange(j.record, {});
}

}  // namespace vessel::block::testing

// The wrappers: each calls the real function, then journals what it did to
// the file (only what succeeded changed anything).
using vessel::block::testing::HostIoRecord;
using vessel::block::testing::HostOp;
using vessel::block::testing::on_journaled_file;
using vessel::block::testing::unmodeled;

extern "C" {

ssize_t __real_pwrite(int fd, const void* buf, size_t count, off_t offset);
ssize_t __real_write(int fd, const void* buf, size_t count);
ssize_t __real_pwritev(int fd, const struct iovec* iov, int iovcnt, off_t offset);
int __real_ftruncate(int fd, off_t length);
int __real_fallocate(int fd, int mode, off_t offset, off_t length);
int __real_fdatasync(int fd);
int __real_fsync(int fd);

ssize_t __wrap_pwrite(int fd, const void* buf, size_t count, off_t offset) {
  ssize_t n = __real_pwrite(fd, buf, count, offset);
  if (n > 0) {
    on_journaled_file(fd, [&](HostIoRecord& r) {
      const auto* bytes = static_cast<const uint8_t*>(buf);
      r.ops.push_back({HostOp::Kind::kWrite, static_cast<uint64_t>(offset),
                       static_cast<uint64_t>(n), std::vector<uint8_t>(bytes, bytes + n)});
    });
  }
  return n;
}

ssize_t __wrap_write(int fd, const void* buf, size_t count) {
  ssize_t n = __real_write(fd, buf, count);
  if (n > 0) unmodeled(fd, "write");
  return n;
}

ssize_t __wrap_pwritev(int fd, const struct iovec* iov, int iovcnt, off_t offset) {
  ssize_t n = __real_pwritev(fd, iov, iovcnt, offset);
  if (n > 0) unmodeled(fd, "pwritev");
  return n;
}

int __wrap_ftruncate(int fd, off_t length) {
  int rc = __real_ftruncate(fd, length);
  if (rc == 0) {
    on_journaled_file(fd, [&](HostIoRecord& r) {
      r.ops.push_back({HostOp::Kind::kTruncate, 0, static_cast<uint64_t>(length), {}});
    });
  }
  return rc;
}

int __wrap_fallocate(int fd, int mode, off_t offset, off_t length) {
  int rc = __real_fallocate(fd, mode, offset, length);
  if (rc == 0) {
    // Both ways HostFile::zero_range asks for: the range reads as zeros and
    // the file keeps its size.
    const int keep_size_zero = FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE;
    const int keep_size_zero_range = FALLOC_FL_KEEP_SIZE | FALLOC_FL_ZERO_RANGE;
    if (mode == keep_size_zero || mode == keep_size_zero_range) {
      on_journaled_file(fd, [&](HostIoRecord& r) {
        r.ops.push_back({HostOp::Kind::kZero,
                         static_cast<uint64_t>(offset),
                         static_cast<uint64_t>(length),
                         {}});
      });
    } else {
      unmodeled(fd, "fallocate");
    }
  }
  return rc;
}

int __wrap_fdatasync(int fd) {
  int rc = __real_fdatasync(fd);
  if (rc == 0) {
    on_journaled_file(fd, [](HostIoRecord& r) {
      r.ops.push_back({HostOp::Kind::kSync, 0, 0, {}});
    });
  }
  return rc;
}

int __wrap_fsync(int fd) {
  int rc = __real_fsync(fd);
  if (rc == 0) {
    on_journaled_file(fd, [](HostIoRecord& r) {
      r.ops.push_back({HostOp::Kind::kSync, 0, 0, {}});
    });
  }
  return rc;
}

}  // extern "C"
