// The storage under a virtual disk: a byte-addressed image of fixed size.
//
// Implementations (raw files and block devices here, qcow2 later) are used by
// the virtio-blk device and by the image tool alike, so they know nothing of
// devices. Offsets and lengths are in bytes; a request that reaches past
// size() is an error, never a silent extension of the image. Implementations
// must allow concurrent calls from several threads.
#pragma once

#include <cstdint>
#include <span>

#include "base/result.h"

namespace vessel::block {

class BlockBackend {
 public:
  virtual ~BlockBackend() = default;

  // Fills `out` with the bytes at [offset, offset + out.size()).
  virtual Result<void> read(uint64_t offset, std::span<uint8_t> out) = 0;
  // Stores `data` at [offset, offset + data.size()). An error on a read-only backend.
  virtual Result<void> write(uint64_t offset, std::span<const uint8_t> data) = 0;
  // Makes every completed write durable (fdatasync for files).
  virtual Result<void> flush() = 0;
  // Size of the image in bytes.
  virtual uint64_t size() const = 0;
  // A cheap check that [offset, offset + length) reads as zeros without
  // reading it (a hole in a sparse file). false means "not known", not
  // "has data": copying tools use it to skip holes.
  virtual Result<bool> known_zero(uint64_t offset, uint64_t length) {
    (void)offset;
    (void)length;
    return false;
  }
  virtual bool read_only() const = 0;
};

}  // namespace vessel::block
