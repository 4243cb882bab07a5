// A host file seen as bytes, for image formats that manage their own layout
// (qcow2): unlike RawFile it can grow, and it reports its identity so a
// backing chain can notice a file that refers to itself. It may bypass the
// host page cache (O_DIRECT) while taking requests of any alignment
// (host_file_direct.cc).
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>

#include "base/result.h"

namespace vessel::block {

enum class Access { kReadOnly, kReadWrite };

// How reads and writes meet the host page cache: qemu's cache.direct and
// cache.writeback ("-drive cache=" in qemu-options.hx). Whether sync() does
// anything ("unsafe" is cache.no-flush) is set apart, by set_sync_enabled().
enum class HostCache {
  kWriteback,     // through the page cache; durable at sync()
  kWritethrough,  // O_DSYNC: every write is durable when it returns
  kDirect,        // O_DIRECT: bypasses the page cache; durable at sync()
  kDirectSync,    // O_DIRECT | O_DSYNC
};

// The (device, inode) pair that names a host file whatever path reached it.
struct FileIdentity {
  dev_t device = 0;
  ino_t inode = 0;
  bool operator==(const FileIdentity&) const = default;
};

class HostFile {
 public:
  // Opens a regular file or block device; errors name the path and the reason.
  // kDirect and kDirectSync fail where the file system refuses O_DIRECT;
  // requests of any alignment are accepted all the same (bounced through an
  // aligned buffer when they must be).
  static Result<std::unique_ptr<HostFile>> open(const std::string& path, Access access,
                                                HostCache cache = HostCache::kWriteback);
  // Creates (or truncates to zero) a regular file for writing.
  static Result<std::unique_ptr<HostFile>> create(const std::string& path);
  ~HostFile();
  HostFile(const HostFile&) = delete;
  HostFile& operator=(const HostFile&) = delete;

  // Reads exactly out.size() bytes; reaching the end of the file is an error.
  Result<void> read(uint64_t offset, std::span<uint8_t> out) const;
  // Reads what lies before the end of the file and zero-fills the rest.
  Result<void> read_padded(uint64_t offset, std::span<uint8_t> out) const;
  // Writes all of `data`, growing the file when it reaches past the end.
  Result<void> write(uint64_t offset, std::span<const uint8_t> data);
  // Makes [offset, offset + length) inside the file read as zeros without
  // writing them: a hole when `deallocate`, else zeroed, still allocated
  // blocks. false: the host filesystem or device cannot (write zeros instead).
  Result<bool> zero_range(uint64_t offset, uint64_t length, bool deallocate);
  // Whether [offset, offset + length) lies in a hole (SEEK_DATA finds no
  // data there). false when the file system cannot tell.
  Result<bool> is_hole(uint64_t offset, uint64_t length) const;
  // The file's extent size hint (extent_size_hint.h), while it is empty.
  Result<void> set_extent_size_hint(uint32_t bytes);
  // Sets the file length (new bytes read as zeros).
  Result<void> truncate(uint64_t length);
  // fdatasync: every completed write is on stable storage when this returns.
  Result<void> sync();
  // With false, sync() does nothing (qemu's cache=unsafe): for files whose
  // content is worthless after a host crash anyway, like the output of an
  // unfinished conversion.
  void set_sync_enabled(bool enabled) { sync_enabled_ = enabled; }

  uint64_t size() const { return size_.load(std::memory_order_relaxed); }
  const std::string& path() const { return path_; }
  FileIdentity identity() const { return identity_; }
  bool read_only() const { return access_ == Access::kReadOnly; }
  // Whether I/O bypasses the host page cache (O_DIRECT).
  bool direct() const { return direct_ != nullptr; }

 private:
  // O_DIRECT's constraints (statx STATX_DIOALIGN) and the lock that
  // serializes the writes that must read before they write.
  struct DirectIo {
    uint32_t mem_align;     // buffer addresses
    uint32_t offset_align;  // file offsets and lengths
    std::mutex mu;
  };

  HostFile(int fd, std::string path, uint64_t size, FileIdentity identity, Access access);
  // The plain pread/pwrite loops (host_file.cc); pread_some stops early only
  // at the end of the file and returns the bytes it read.
  Result<uint64_t> pread_some(uint64_t offset, std::span<uint8_t> out) const;
  Result<void> pwrite_all(uint64_t offset, std::span<const uint8_t> data);
  void grow_to(uint64_t end);
  // The O_DIRECT paths (host_file_direct.cc).
  static Result<std::unique_ptr<DirectIo>> direct_io_for(int fd, const std::string& path);
  bool direct_aligned(const void* buffer, uint64_t offset, uint64_t length) const;
  Result<void> read_direct(uint64_t offset, std::span<uint8_t> out) const;
  Result<void> write_direct(uint64_t offset, std::span<const uint8_t> data);
  Result<void> write_blocks(uint64_t offset, std::span<const uint8_t> data);
  Result<void> read_modify_write(uint64_t offset, std::span<const uint8_t> data);

  int fd_;
  std::string path_;
  std::atomic<uint64_t> size_;
  FileIdentity identity_;
  Access access_;
  bool sync_enabled_ = true;
  std::unique_ptr<DirectIo> direct_;  // nullptr: through the page cache
};

}  // namespace vessel::block
