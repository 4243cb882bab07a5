// Boot image placement and the boot handshake data (QEMU's hw/riscv/boot.c
// layout): kernel after the firmware on a 2 MiB boundary, DTB at the top,
// initrd below it, fw_dynamic_info for OpenSBI.
#include "machine/boot.h"

#include <gtest/gtest.h>
#include <libfdt.h>

#include "test_files.h"

namespace vessel::machine {
namespace {

using testing::make_linux_image;
using testing::TempDir;

constexpr uint64_t kRamBase = 0x8000'0000;
constexpr uint64_t kMiB = uint64_t{1} << 20;

class BootTest : public ::testing::Test {
 protected:
  void map(uint64_t size) { ASSERT_TRUE(bus_.map_ram(kRamBase, size).ok()); }

  BoardConfig linux_config() {
    BoardConfig config;
    config.harts = 2;
    config.firmware = dir_.file("fw_dynamic.bin", std::vector<uint8_t>(115328, 0x13));
    config.kernel = dir_.file("Image", make_linux_image(3 * kMiB, 4 * kMiB));
    config.initrd = dir_.file("initrd", std::vector<uint8_t>(100000, 0x42));
    config.append = "console=ttyS0";
    return config;
  }

  TempDir dir_;
  memory::AddressSpace bus_;
};

TEST_F(BootTest, LinuxLayoutLikeQemu) {
  map(512 * kMiB);
  BoardConfig config = linux_config();
  Result<BootInfo> info = load_boot_images(bus_, config);
  ASSERT_TRUE(info.ok()) << info.error().message();

  EXPECT_EQ(info->entry(), kRamBase);
  EXPECT_EQ(info->firmware.end, kRamBase + 115328);
  ASSERT_TRUE(info->kernel.has_value());
  EXPECT_EQ(info->kernel->entry, 0x8020'0000u);
  EXPECT_EQ(info->kernel->end, 0x8020'0000u + 4 * kMiB);

  // The DTB is at the top of RAM on a 2 MiB boundary, fw_dynamic_info after it.
  const uint64_t ram_end = kRamBase + 512 * kMiB;
  EXPECT_EQ(info->dtb_address % (2 * kMiB), 0u);
  EXPECT_EQ(info->dtb_address, ram_end - 2 * kMiB);
  EXPECT_GT(info->fw_dynamic_info_address, info->dtb_address);
  EXPECT_LE(info->fw_dynamic_info_address + sizeof(FwDynamicInfo), ram_end);

  // The initrd sits just below the DTB, page-aligned, above the kernel.
  ASSERT_TRUE(info->initrd.has_value());
  EXPECT_EQ(info->initrd->start % 4096, 0u);
  EXPECT_LE(info->initrd->end, info->dtb_address);
  EXPECT_GT(info->initrd->start, info->dtb_address - 2 * kMiB);
  EXPECT_GE(info->initrd->start, info->kernel->end);
  EXPECT_EQ(*bus_.ram_ptr(info->initrd->start, 1), 0x42);

  const void* fdt = bus_.ram_ptr(info->dtb_address, info->dtb_size);
  ASSERT_EQ(fdt_check_header(fdt), 0);
  int chosen = fdt_path_offset(fdt, "/chosen");
  int len = 0;
  const auto* start =
      static_cast<const fdt64_t*>(fdt_getprop(fdt, chosen, "linux,initrd-start", &len));
  ASSERT_NE(start, nullptr);
  EXPECT_EQ(fdt64_ld(start), info->initrd->start);
  const auto* end = static_cast<const fdt64_t*>(fdt_getprop(fdt, chosen, "linux,initrd-end", &len));
  ASSERT_NE(end, nullptr);
  EXPECT_EQ(fdt64_ld(end), info->initrd->start + 100000);
  EXPECT_STREQ(static_cast<const char*>(fdt_getprop(fdt, chosen, "bootargs", nullptr)),
               "console=ttyS0");

  FwDynamicInfo fw;
  ASSERT_TRUE(bus_.read_bytes(info->fw_dynamic_info_address, &fw, sizeof fw));
  EXPECT_EQ(fw.magic, 0x4942534fu);
  EXPECT_EQ(fw.version, 2u);
  EXPECT_EQ(fw.next_addr, 0x8020'0000u);
  EXPECT_EQ(fw.next_mode, 1u);
  EXPECT_EQ(fw.options, 0u);
  EXPECT_EQ(fw.boot_hart, ~uint64_t{0});
}

TEST_F(BootTest, DtbStaysBelowThreeGiB) {
  map(4096 * kMiB);
  Result<BootInfo> info = load_boot_images(bus_, linux_config());
  ASSERT_TRUE(info.ok()) << info.error().message();
  EXPECT_EQ(info->dtb_address, (uint64_t{3} << 30) - 2 * kMiB);
}

TEST_F(BootTest, BareMetalFirmwareOnly) {
  map(2 * kMiB);
  BoardConfig config;
  config.firmware = dir_.file("test.bin", std::vector<uint8_t>(64, 0x13));
  Result<BootInfo> info = load_boot_images(bus_, config);
  ASSERT_TRUE(info.ok()) << info.error().message();
  EXPECT_FALSE(info->kernel.has_value());
  EXPECT_EQ(info->entry(), kRamBase);
  // 2 MiB of RAM: the DTB cannot take a 2 MiB-aligned slot above the
  // firmware and is packed at the top instead.
  EXPECT_GT(info->dtb_address, kRamBase);
  EXPECT_LE(info->fw_dynamic_info_address + sizeof(FwDynamicInfo), kRamBase + 2 * kMiB);
}

TEST_F(BootTest, RamTooSmallForKernelOrInitrd) {
  map(4 * kMiB);
  Result<BootInfo> info = load_boot_images(bus_, linux_config());
  ASSERT_FALSE(info.ok());
  EXPECT_NE(info.error().message().find("Image"), std::string::npos) << info.error().message();

  memory::AddressSpace bus;
  ASSERT_TRUE(bus.map_ram(kRamBase, 8 * kMiB).ok());
  BoardConfig config = linux_config();
  config.initrd = dir_.file("big-initrd", std::vector<uint8_t>(3 * kMiB, 1));
  info = load_boot_images(bus, config);
  ASSERT_FALSE(info.ok());
  EXPECT_NE(info.error().message().find("too small"), std::string::npos) << info.error().message();
}

TEST_F(BootTest, KernelPlacedAfterLargeFirmware) {
  EXPECT_EQ(kernel_address(kRamBase + 1), 0x8020'0000u);
  EXPECT_EQ(kernel_address(kRamBase + 2 * kMiB), 0x8020'0000u);
  EXPECT_EQ(kernel_address(kRamBase + 2 * kMiB + 1), 0x8040'0000u);
}

}  // namespace
}  // namespace vessel::machine
