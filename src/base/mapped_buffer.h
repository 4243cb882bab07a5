// A large byte buffer in an anonymous mapping of its own (a saved VM's state
// read back: tens of MiB). Unlike a std::vector it asks for transparent huge
// pages (a page fault per 2 MiB instead of per 4 KiB as it fills), is not
// zeroed twice (the kernel hands out zeroed pages), and grows with mremap,
// which moves page-table entries instead of copying the bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "base/result.h"

namespace vessel {

class MappedBuffer {
 public:
  MappedBuffer() = default;
  static Result<MappedBuffer> create(size_t capacity);
  MappedBuffer(MappedBuffer&& other) noexcept;
  MappedBuffer& operator=(MappedBuffer&& other) noexcept;
  ~MappedBuffer();

  // Room for at least `capacity` bytes; the bytes already there stay.
  Result<void> reserve(size_t capacity);
  // The bytes in use; n must be at most capacity().
  void set_size(size_t n) { size_ = n; }

  uint8_t* data() { return data_; }
  size_t size() const { return size_; }
  size_t capacity() const { return capacity_; }
  std::span<const uint8_t> bytes() const { return {data_, size_}; }
  std::span<uint8_t> spare() { return {data_ + size_, capacity_ - size_}; }

 private:
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
  size_t capacity_ = 0;
};

}  // namespace vessel
