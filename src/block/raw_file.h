// A raw disk image: a regular file or a host block device, byte for byte.
#pragma once

#include <memory>
#include <string>
#include <utility>

#include "block/block_backend.h"

namespace vessel::block {

class RawFile : public BlockBackend {
 public:
  // Opens `path`; errors name the file and the reason (missing, permission,
  // not a regular file or block device).
  static Result<std::unique_ptr<RawFile>> open(const std::string& path, bool read_only);
  ~RawFile() override;
  RawFile(const RawFile&) = delete;
  RawFile& operator=(const RawFile&) = delete;

  Result<void> read(uint64_t offset, std::span<uint8_t> out) override;
  Result<void> write(uint64_t offset, std::span<const uint8_t> data) override;
  Result<void> flush() override;
  uint64_t size() const override { return size_; }
  bool read_only() const override { return read_only_; }

  const std::string& path() const { return path_; }

 private:
  RawFile(int fd, std::string path, uint64_t size, bool read_only)
      : fd_(fd), path_(std::move(path)), size_(size), read_only_(read_only) {}
  Result<void> check_range(const char* what, uint64_t offset, uint64_t length) const;

  int fd_;
  std::string path_;
  uint64_t size_;
  bool read_only_;
};

}  // namespace vessel::block
