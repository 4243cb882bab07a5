// The guest-physical address space: one RAM region plus MMIO windows.
//
// RAM is an anonymous host mapping; the CPU caches host pointers into it in
// its TLB, devices copy to and from it for DMA. Every DMA write marks the
// dirty log so migration sees device writes as well as CPU writes.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "base/result.h"
#include "memory/code_pages.h"
#include "memory/mmio.h"

namespace vessel::memory {

constexpr uint64_t kPageSize = 4096;
constexpr unsigned kPageShift = 12;

// Per-page record of guest RAM writes, off until enabled.
class DirtyLog {
 public:
  void resize(uint64_t pages);
  void enable(bool on) { enabled_.store(on, std::memory_order_relaxed); }
  bool enabled() const { return enabled_.load(std::memory_order_relaxed); }
  // The flag enabled() reads, for translated code that tests it inline.
  const std::atomic<bool>* enabled_flag() const { return &enabled_; }
  void mark(uint64_t page_index) {
    if (!enabled()) return;
    bits_[page_index / 64].fetch_or(uint64_t{1} << (page_index % 64), std::memory_order_relaxed);
  }
  // Returns the dirty pages' indices and clears them.
  std::vector<uint64_t> collect_and_clear();

 private:
  std::atomic<bool> enabled_{false};
  std::unique_ptr<std::atomic<uint64_t>[]> bits_;
  uint64_t words_ = 0;
};

class AddressSpace {
 public:
  AddressSpace() = default;
  ~AddressSpace();
  AddressSpace(const AddressSpace&) = delete;
  AddressSpace& operator=(const AddressSpace&) = delete;

  Result<void> map_ram(uint64_t base, uint64_t size);
  Result<void> map_mmio(uint64_t base, uint64_t size, MmioHandler* handler, std::string name);

  uint64_t ram_base() const { return ram_base_; }
  uint64_t ram_size() const { return ram_size_; }
  uint8_t* ram_host() const { return ram_; }

  // Host pointer for [paddr, paddr+len) if it lies entirely in RAM, else null.
  uint8_t* ram_ptr(uint64_t paddr, uint64_t len) const {
    uint64_t off = paddr - ram_base_;
    if (paddr < ram_base_ || off >= ram_size_ || len > ram_size_ - off) return nullptr;
    return ram_ + off;
  }
  bool is_ram(uint64_t paddr) const { return paddr >= ram_base_ && paddr - ram_base_ < ram_size_; }

  // Word access for the CPU's slow path: RAM or MMIO. False = access fault.
  bool read(uint64_t paddr, unsigned size, uint64_t& value);
  bool write(uint64_t paddr, unsigned size, uint64_t value);

  // Byte copies for device DMA. False if any byte is outside RAM.
  bool read_bytes(uint64_t paddr, void* out, uint64_t len) const;
  bool write_bytes(uint64_t paddr, const void* in, uint64_t len);
  void mark_dirty(uint64_t paddr, uint64_t len);
  // A CPU store wrote [paddr, paddr+len) of RAM (within one page): logged
  // for migration and checked against decoded code.
  void cpu_wrote(uint64_t paddr, uint64_t len) {
    mark_dirty(paddr, len);
    code_.written(ram_page(paddr));
  }

  DirtyLog& dirty_log() { return dirty_; }
  // Pages of RAM, counted from ram_base().
  CodePages& code_pages() { return code_; }
  uint64_t ram_page(uint64_t paddr) const { return (paddr - ram_base_) >> kPageShift; }

  struct MmioRegion {
    uint64_t base;
    uint64_t size;
    MmioHandler* handler;
    std::string name;
  };
  const MmioRegion* find_mmio(uint64_t paddr) const;

 private:
  uint64_t ram_base_ = 0;
  uint64_t ram_size_ = 0;
  uint8_t* ram_ = nullptr;
  std::vector<MmioRegion> mmio_;  // sorted by base
  DirtyLog dirty_;
  CodePages code_;
};

}  // namespace vessel::memory
