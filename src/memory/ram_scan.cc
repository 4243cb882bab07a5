#include "memory/ram_scan.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

namespace vessel::memory {
namespace {

// pagemap entry bits (Documentation/admin-guide/mm/pagemap.rst).
constexpr uint64_t kPresent = uint64_t{1} << 63;
constexpr uint64_t kSwapped = uint64_t{1} << 62;
// Entries read at a time: 32 KiB of page table for 16 MiB of RAM.
constexpr uint64_t kWindowPages = 4096;

}  // namespace

bool page_is_zero(const uint8_t* page) {
  // A cache line at a time, OR-ed (the compiler vectorizes it): stops at
  // the first line with data without a branch per word.
  for (uint64_t offset = 0; offset < kPageSize; offset += 64) {
    uint64_t w[8];
    std::memcpy(w, page + offset, sizeof w);
    if ((w[0] | w[1] | w[2] | w[3] | w[4] | w[5] | w[6] | w[7]) != 0) return false;
  }
  return true;
}

RamScan::RamScan(const AddressSpace& bus)
    : ram_(bus.ram_host()),
      pages_(bus.ram_size() / kPageSize),
      pagemap_fd_(open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC)) {}

RamScan::~RamScan() {
  if (pagemap_fd_ >= 0) close(pagemap_fd_);
}

bool RamScan::may_hold_data(uint64_t index) {
  if (pagemap_fd_ < 0) return true;
  if (index < window_first_ || index - window_first_ >= window_.size()) {
    window_first_ = index;
    window_.resize(std::min(kWindowPages, pages_ - index));
    const uint64_t host_page = reinterpret_cast<uintptr_t>(ram_) / kPageSize + index;
    const size_t bytes = window_.size() * sizeof(uint64_t);
    if (pread(pagemap_fd_, window_.data(), bytes, static_cast<off_t>(host_page * 8)) !=
        static_cast<ssize_t>(bytes)) {
      close(pagemap_fd_);  // look at every page from now on
      pagemap_fd_ = -1;
      window_.clear();
      return true;
    }
  }
  return (window_[index - window_first_] & (kPresent | kSwapped)) != 0;
}

bool RamScan::is_zero(uint64_t index) {
  return !may_hold_data(index) || page_is_zero(ram_ + index * kPageSize);
}

}  // namespace vessel::memory
