// A raw disk image: a regular file or a host block device, byte for byte.
#pragma once

#include <memory>
#include <string>
#include <utility>

#include "block/block_backend.h"
#include "block/host_file.h"

namespace vessel::block {

class RawFile : public BlockBackend {
 public:
  // Opens `path`; errors name the file and the reason (missing, permission,
  // not a regular file or block device, no O_DIRECT for `cache`).
  static Result<std::unique_ptr<RawFile>> open(const std::string& path, bool read_only,
                                               HostCache cache = HostCache::kWriteback);
  RawFile(const RawFile&) = delete;
  RawFile& operator=(const RawFile&) = delete;

  Result<void> read(uint64_t offset, std::span<uint8_t> out) override;
  Result<void> write(uint64_t offset, std::span<const uint8_t> data) override;
  // Punches a hole (kDeallocate) or zeroes the range in place, where the host
  // filesystem or device can; writes zeros where it cannot.
  Result<void> write_zeroes(uint64_t offset, uint64_t length, ZeroMode mode) override;
  // Punches a hole where the host filesystem or device can.
  Result<void> discard(uint64_t offset, uint64_t length) override;
  Result<void> flush() override;
  Result<bool> known_zero(uint64_t offset, uint64_t length) override;
  // A raw image never grows: its size is the file's size at open.
  uint64_t size() const override { return file_->size(); }
  bool read_only() const override { return file_->read_only(); }

  const std::string& path() const { return file_->path(); }
  // false: flush() does nothing (qemu's cache=unsafe).
  void set_sync_enabled(bool enabled) { file_->set_sync_enabled(enabled); }

 private:
  explicit RawFile(std::unique_ptr<HostFile> file) : file_(std::move(file)) {}
  Result<void> check_range(const char* what, uint64_t offset, uint64_t length) const;

  std::unique_ptr<HostFile> file_;
};

}  // namespace vessel::block
