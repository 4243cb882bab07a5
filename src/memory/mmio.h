// The interface every memory-mapped device implements.
#pragma once

#include <cstdint>

namespace vessel::memory {

class MmioHandler {
 public:
  virtual ~MmioHandler() = default;
  // `offset` is relative to the device's base; `size` is 1, 2, 4 or 8 and the
  // access is naturally aligned. Returning false raises an access fault in the
  // guest. Handlers may be called from any vCPU thread concurrently.
  virtual bool mmio_read(uint64_t offset, unsigned size, uint64_t& value) = 0;
  virtual bool mmio_write(uint64_t offset, unsigned size, uint64_t value) = 0;
};

}  // namespace vessel::memory
