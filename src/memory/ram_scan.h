// Finding the guest pages that hold data without touching the others.
//
// Reading a never-written page of the RAM mapping makes the host kernel map
// its shared zero page there: a page fault per 4 KiB, which was most of the
// time of a save or of a migration's first pass over a mostly empty guest.
// The kernel's page table already knows those pages: in a private anonymous
// mapping (AddressSpace::map_ram), a page that is neither present nor swapped
// out was never written, or was dropped, and reads as zeros
// (/proc/self/pagemap, Documentation/admin-guide/mm/pagemap.rst).
#pragma once

#include <cstdint>
#include <vector>

#include "memory/address_space.h"

namespace vessel::memory {

// Whether the 4 KiB at `page` are all zero.
bool page_is_zero(const uint8_t* page);

// Answers page by page, reading the page table a window at a time; best
// with increasing page numbers. Where the page table cannot be read (no
// /proc), every page is looked at.
class RamScan {
 public:
  explicit RamScan(const AddressSpace& bus);
  ~RamScan();
  RamScan(const RamScan&) = delete;
  RamScan& operator=(const RamScan&) = delete;

  // Whether guest-RAM page `index` reads as zeros; looks at its bytes only
  // if the page table says it may hold data.
  bool is_zero(uint64_t index);

 private:
  bool may_hold_data(uint64_t index);

  const uint8_t* ram_;
  uint64_t pages_;
  int pagemap_fd_ = -1;
  uint64_t window_first_ = 0;
  std::vector<uint64_t> window_;  // page-table entries from window_first_ on
};

}  // namespace vessel::memory
