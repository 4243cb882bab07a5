// RamScan: pages the guest never wrote are zero without being read; written
// pages are looked at; dropped pages are zero again.
#include "memory/ram_scan.h"

#include <gtest/gtest.h>
#include <sys/mman.h>

namespace vessel::memory {
namespace {

constexpr uint64_t kPages = 3 * 4096 + 5;  // more than one page-table window

TEST(PageIsZeroTest, AnyByteCounts) {
  alignas(64) uint8_t page[kPageSize] = {};
  EXPECT_TRUE(page_is_zero(page));
  for (size_t at : {size_t{0}, size_t{63}, size_t{64}, kPageSize - 1}) {
    page[at] = 1;
    EXPECT_FALSE(page_is_zero(page)) << at;
    page[at] = 0;
  }
}

TEST(RamScanTest, UntouchedWrittenAndDroppedPages) {
  AddressSpace bus;
  ASSERT_TRUE(bus.map_ram(0x80000000, kPages * kPageSize));
  uint8_t* ram = bus.ram_host();
  ram[5 * kPageSize + 17] = 0xaa;                   // data
  ram[kPages / 2 * kPageSize] = 0;                  // written, but zeros
  ram[(kPages - 1) * kPageSize + 4095] = 0x55;      // the last byte of RAM
  volatile uint8_t read_only = ram[9 * kPageSize];  // maps the zero page
  (void)read_only;

  RamScan scan(bus);
  std::vector<uint64_t> data;
  for (uint64_t i = 0; i < kPages; ++i) {
    if (!scan.is_zero(i)) data.push_back(i);
  }
  EXPECT_EQ(data, (std::vector<uint64_t>{5, kPages - 1}));

  // Dropped pages read as zeros again, in any order of asking.
  ASSERT_EQ(madvise(ram, kPages * kPageSize, MADV_DONTNEED), 0);
  RamScan again(bus);
  EXPECT_TRUE(again.is_zero(kPages - 1));
  EXPECT_TRUE(again.is_zero(5));
}

}  // namespace
}  // namespace vessel::memory
