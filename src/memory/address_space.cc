#include "memory/address_space.h"

#include <sys/mman.h>

#include <algorithm>
#include <cerrno>

namespace vessel::memory {

void DirtyLog::resize(uint64_t pages) {
  words_ = (pages + 63) / 64;
  bits_ = std::make_unique<std::atomic<uint64_t>[]>(words_);
}

std::vector<uint64_t> DirtyLog::collect_and_clear() {
  std::vector<uint64_t> pages;
  for (uint64_t w = 0; w < words_; ++w) {
    uint64_t bits = bits_[w].exchange(0, std::memory_order_relaxed);
    while (bits) {
      pages.push_back(w * 64 + static_cast<uint64_t>(__builtin_ctzll(bits)));
      bits &= bits - 1;
    }
  }
  return pages;
}

AddressSpace::~AddressSpace() {
  if (ram_) munmap(ram_, ram_size_);
}

Result<void> AddressSpace::map_ram(uint64_t base, uint64_t size) {
  if (ram_) return Error("guest RAM is already mapped");
  if (size == 0 || size % kPageSize != 0)
    return Error("guest RAM size must be a multiple of 4 KiB");
  // MAP_NORESERVE: untouched guest pages cost no host memory.
  void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                 -1, 0);
  if (p == MAP_FAILED) {
    return Error("cannot allocate " + std::to_string(size >> 20) +
                 " MiB of guest RAM: " + strerror(errno));
  }
  ram_ = static_cast<uint8_t*>(p);
  ram_base_ = base;
  ram_size_ = size;
  dirty_.resize(size / kPageSize);
  code_.resize(size / kPageSize);
  return Ok();
}

Result<void> AddressSpace::map_mmio(uint64_t base, uint64_t size, MmioHandler* handler,
                                    std::string name) {
  for (const MmioRegion& r : mmio_) {
    if (base < r.base + r.size && r.base < base + size) {
      return Error("MMIO region " + name + " overlaps " + r.name);
    }
  }
  mmio_.push_back({base, size, handler, std::move(name)});
  std::sort(mmio_.begin(), mmio_.end(),
            [](const MmioRegion& a, const MmioRegion& b) { return a.base < b.base; });
  return Ok();
}

const AddressSpace::MmioRegion* AddressSpace::find_mmio(uint64_t paddr) const {
  auto it = std::upper_bound(mmio_.begin(), mmio_.end(), paddr,
                             [](uint64_t a, const MmioRegion& r) { return a < r.base; });
  if (it == mmio_.begin()) return nullptr;
  --it;
  return paddr - it->base < it->size ? &*it : nullptr;
}

bool AddressSpace::read(uint64_t paddr, unsigned size, uint64_t& value) {
  if (uint8_t* p = ram_ptr(paddr, size)) {
    value = 0;
    std::memcpy(&value, p, size);
    return true;
  }
  const MmioRegion* r = find_mmio(paddr);
  if (!r || size > r->size - (paddr - r->base)) return false;
  value = 0;
  return r->handler->mmio_read(paddr - r->base, size, value);
}

bool AddressSpace::write(uint64_t paddr, unsigned size, uint64_t value) {
  if (uint8_t* p = ram_ptr(paddr, size)) {
    std::memcpy(p, &value, size);
    mark_dirty(paddr, size);
    return true;
  }
  const MmioRegion* r = find_mmio(paddr);
  if (!r || size > r->size - (paddr - r->base)) return false;
  return r->handler->mmio_write(paddr - r->base, size, value);
}

bool AddressSpace::read_bytes(uint64_t paddr, void* out, uint64_t len) const {
  const uint8_t* p = ram_ptr(paddr, len);
  if (!p) return false;
  std::memcpy(out, p, len);
  return true;
}

bool AddressSpace::write_bytes(uint64_t paddr, const void* in, uint64_t len) {
  uint8_t* p = ram_ptr(paddr, len);
  if (!p) return false;
  std::memcpy(p, in, len);
  mark_dirty(paddr, len);
  return true;
}

void AddressSpace::mark_dirty(uint64_t paddr, uint64_t len) {
  if (!dirty_.enabled() || len == 0) return;
  uint64_t first = (paddr - ram_base_) >> kPageShift;
  uint64_t last = (paddr - ram_base_ + len - 1) >> kPageShift;
  for (uint64_t page = first; page <= last; ++page) dirty_.mark(page);
}

}  // namespace vessel::memory
