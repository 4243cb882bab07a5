// A heap buffer whose start is aligned, as O_DIRECT reads and writes need
// (open(2): "the user buffer ... must be suitably aligned"). Callers that
// keep their data in one (vessel img convert and bench) let a host file
// opened for direct I/O take the request as is, without a bounce copy.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <span>

namespace vessel::block {

// The page size: a multiple of every memory alignment that direct I/O asks
// for on Linux (statx's stx_dio_mem_align), so good for any host file.
inline constexpr size_t kDirectIoAlignment = 4096;

class AlignedBuffer {
 public:
  AlignedBuffer() = default;
  // `size` bytes, zero-filled, starting at a multiple of `alignment` (a power
  // of two). Allocation failure is fatal, as for std::vector.
  explicit AlignedBuffer(size_t size, size_t alignment = kDirectIoAlignment) : size_(size) {
    if (size == 0) return;
    // aligned_alloc wants a size that is a multiple of the alignment.
    size_t rounded = (size + alignment - 1) / alignment * alignment;
    auto* p = static_cast<uint8_t*>(std::aligned_alloc(alignment, rounded));
    if (p == nullptr) std::abort();
    std::fill(p, p + rounded, uint8_t{0});
    data_.reset(p);
  }

  uint8_t* data() { return data_.get(); }
  const uint8_t* data() const { return data_.get(); }
  size_t size() const { return size_; }
  std::span<uint8_t> span() { return {data_.get(), size_}; }

 private:
  struct Free {
    void operator()(uint8_t* p) const { std::free(p); }
  };
  std::unique_ptr<uint8_t[], Free> data_;
  size_t size_ = 0;
};

}  // namespace vessel::block
