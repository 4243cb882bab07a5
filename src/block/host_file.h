// A host file seen as bytes, for image formats that manage their own layout
// (qcow2): unlike RawFile it can grow, and it reports its identity so a
// backing chain can notice a file that refers to itself.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "base/result.h"

namespace vessel::block {

enum class Access { kReadOnly, kReadWrite };

// The (device, inode) pair that names a host file whatever path reached it.
struct FileIdentity {
  dev_t device = 0;
  ino_t inode = 0;
  bool operator==(const FileIdentity&) const = default;
};

class HostFile {
 public:
  // Opens a regular file or block device; errors name the path and the reason.
  static Result<std::unique_ptr<HostFile>> open(const std::string& path, Access access);
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

  uint64_t size() const { return size_; }
  const std::string& path() const { return path_; }
  FileIdentity identity() const { return identity_; }
  bool read_only() const { return access_ == Access::kReadOnly; }

 private:
  HostFile(int fd, std::string path, uint64_t size, FileIdentity identity, Access access);

  int fd_;
  std::string path_;
  uint64_t size_;
  FileIdentity identity_;
  Access access_;
  bool sync_enabled_ = true;
};

}  // namespace vessel::block
