// The storage under a virtual disk: a byte-addressed image of fixed size.
//
// Implementations (raw files and block devices, qcow2 images) are used by
// the virtio-blk device and by the image tool alike, so they know nothing of
// devices. Offsets and lengths are in bytes; a request that reaches past
// size() is an error, never a silent extension of the image. Implementations
// must allow concurrent calls from several threads.
#pragma once

#include <cstdint>
#include <span>

#include "base/result.h"

namespace vessel::block {

// How write_zeroes() may treat the storage under the range.
enum class ZeroMode {
  kKeepAllocation,  // the storage stays allocated (a later write needs no allocation)
  kDeallocate,      // the storage may be freed: a discard that reads back zeros
};

class BlockBackend {
 public:
  virtual ~BlockBackend() = default;

  // Fills `out` with the bytes at [offset, offset + out.size()).
  virtual Result<void> read(uint64_t offset, std::span<uint8_t> out) = 0;
  // Stores `data` at [offset, offset + data.size()). An error on a read-only backend.
  virtual Result<void> write(uint64_t offset, std::span<const uint8_t> data) = 0;
  // Makes [offset, offset + length) read as zeros, without writing data where
  // the backend can (sparse files, qcow2 zero clusters). This default writes
  // zeros.
  virtual Result<void> write_zeroes(uint64_t offset, uint64_t length, ZeroMode mode);
  // Tells the backend that the data in [offset, offset + length) is no longer
  // needed, so it may free the storage: the range then reads as zeros, or as
  // the backing file, or unchanged where the backend keeps it (QEMU's
  // discard). This default keeps everything.
  virtual Result<void> discard(uint64_t offset, uint64_t length);
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
