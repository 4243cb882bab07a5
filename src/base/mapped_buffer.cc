#include "base/mapped_buffer.h"

#include <sys/mman.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <utility>

namespace vessel {
namespace {

constexpr size_t kHugePage = size_t{2} << 20;

size_t rounded(size_t n) {
  return (n + kHugePage - 1) / kHugePage * kHugePage;
}

Error map_error(size_t bytes) {
  return Error("cannot allocate " + std::to_string(bytes >> 20) + " MiB: " + strerror(errno));
}

}  // namespace

Result<MappedBuffer> MappedBuffer::create(size_t capacity) {
  MappedBuffer b;
  TRY(b.reserve(capacity));
  return b;
}

MappedBuffer::MappedBuffer(MappedBuffer&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      capacity_(std::exchange(other.capacity_, 0)) {}

MappedBuffer& MappedBuffer::operator=(MappedBuffer&& other) noexcept {
  if (this != &other) {
    if (data_) munmap(data_, capacity_);
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    capacity_ = std::exchange(other.capacity_, 0);
  }
  return *this;
}

MappedBuffer::~MappedBuffer() {
  if (data_) munmap(data_, capacity_);
}

Result<void> MappedBuffer::reserve(size_t capacity) {
  if (capacity <= capacity_) return Ok();
  const size_t bytes = rounded(capacity);
  void* p = data_
                ? mremap(data_, capacity_, bytes, MREMAP_MAYMOVE)
                : mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return map_error(bytes);
  (void)madvise(p, bytes, MADV_HUGEPAGE);  // a hint: small pages work too
  data_ = static_cast<uint8_t*>(p);
  capacity_ = bytes;
  return Ok();
}

}  // namespace vessel
