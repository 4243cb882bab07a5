// The assembled `virt` board: configuration checks, devices at their
// addresses, harts at the boot state QEMU's reset vector produces.
#include "machine/board.h"

#include <gtest/gtest.h>
#include <libfdt.h>

#include "cpu/riscv/hart.h"
#include "machine/memory_map.h"
#include "test_files.h"

namespace vessel::machine {
namespace {

using testing::TempDir;

class BoardTest : public ::testing::Test {
 protected:
  BoardConfig config() {
    BoardConfig c;
    c.memory_size = uint64_t{8} << 20;
    c.harts = 2;
    c.firmware = dir_.file("fw.bin", std::vector<uint8_t>(256, 0x13));
    return c;
  }
  void expect_error(BoardConfig c, const std::string& what) {
    Result<std::unique_ptr<Board>> board = Board::create(std::move(c));
    ASSERT_FALSE(board.ok());
    EXPECT_NE(board.error().message().find(what), std::string::npos) << board.error().message();
  }
  TempDir dir_;
};

TEST_F(BoardTest, RejectsBadConfigurations) {
  BoardConfig c = config();
  c.harts = 0;
  expect_error(c, "between 1 and 8 (got 0)");
  c.harts = 9;
  expect_error(c, "between 1 and 8 (got 9)");

  c = config();
  c.memory_size = 1024;
  expect_error(c, "guest memory of 1 KiB is too small");
  c.memory_size = uint64_t{999} << 30;
  expect_error(c, "guest memory of 999 GiB is too large");
  c.memory_size = (uint64_t{8} << 20) + 100;
  expect_error(c, "multiple of 4 KiB");

  c = config();
  c.firmware.clear();
  expect_error(c, "no firmware");
  c = config();
  c.initrd = c.firmware;
  expect_error(c, "an initrd needs a kernel");
  c = config();
  c.disks.assign(kVirtioSlots + 1, DiskConfig{c.firmware, true});
  expect_error(c, "at most 8 disks");
  c = config();
  c.disks.push_back({dir_.path() + "/missing.img", false});
  expect_error(c, "missing.img");
  c = config();
  c.firmware = dir_.path() + "/missing.bin";
  expect_error(c, "missing.bin");
}

TEST_F(BoardTest, HartsStartAtFirmwareWithBootArguments) {
  Result<std::unique_ptr<Board>> board = Board::create(config());
  ASSERT_TRUE(board.ok()) << board.error().message();
  Board& b = **board;
  ASSERT_EQ(b.hart_count(), 2u);
  const BootInfo& boot = b.boot_info();
  for (unsigned h = 0; h < 2; ++h) {
    cpu::riscv::Hart& hart = b.hart(h);
    EXPECT_EQ(hart.pc(), 0x8000'0000u);
    EXPECT_EQ(hart.privilege(), cpu::riscv::Priv::kMachine);
    EXPECT_EQ(hart.reg(10), h);                             // a0
    EXPECT_EQ(hart.reg(11), boot.dtb_address);              // a1
    EXPECT_EQ(hart.reg(12), boot.fw_dynamic_info_address);  // a2
  }
  const void* fdt = b.bus().ram_ptr(boot.dtb_address, boot.dtb_size);
  ASSERT_NE(fdt, nullptr);
  EXPECT_EQ(fdt_check_header(fdt), 0);
  EXPECT_GE(fdt_path_offset(fdt, "/cpus/cpu@1"), 0);
  EXPECT_LT(fdt_path_offset(fdt, "/cpus/cpu@2"), 0);
}

TEST_F(BoardTest, DevicesAtTheMemoryMapAddresses) {
  BoardConfig c = config();
  c.disks.push_back({dir_.file("disk.img", std::vector<uint8_t>(4096, 0)), true});
  Result<std::unique_ptr<Board>> board = Board::create(std::move(c));
  ASSERT_TRUE(board.ok()) << board.error().message();
  memory::AddressSpace& bus = (*board)->bus();
  EXPECT_EQ(bus.ram_base(), 0x8000'0000u);
  EXPECT_EQ(bus.ram_size(), uint64_t{8} << 20);
  for (const MemoryMapEntry& e : kMemoryMap) {
    if (e.region == Region::kRam || e.region == Region::kVirtio) continue;
    const memory::AddressSpace::MmioRegion* r = bus.find_mmio(e.base);
    ASSERT_NE(r, nullptr) << e.name;
    EXPECT_EQ(r->base, e.base) << e.name;
    EXPECT_EQ(r->size, e.size) << e.name;
  }
  // virtio-mmio: magic and version in every slot; the disk, then the
  // entropy source, then empty slots (device ID 0).
  const uint32_t expected_ids[kVirtioSlots] = {2, 4, 0, 0, 0, 0, 0, 0};
  for (unsigned slot = 0; slot < kVirtioSlots; ++slot) {
    uint64_t magic = 0, version = 0, id = 0;
    ASSERT_TRUE(bus.read(virtio_slot_base(slot), 4, magic));
    ASSERT_TRUE(bus.read(virtio_slot_base(slot) + 4, 4, version));
    ASSERT_TRUE(bus.read(virtio_slot_base(slot) + 8, 4, id));
    EXPECT_EQ(magic, 0x74726976u) << "slot " << slot;
    EXPECT_EQ(version, 2u) << "slot " << slot;
    EXPECT_EQ(id, expected_ids[slot]) << "slot " << slot;
  }
}

TEST_F(BoardTest, TestDeviceReportsPowerEvents) {
  BoardConfig c = config();
  std::vector<PowerEvent> events;
  c.power = [&](PowerEvent e) { events.push_back(e); };
  Result<std::unique_ptr<Board>> board = Board::create(std::move(c));
  ASSERT_TRUE(board.ok()) << board.error().message();
  memory::AddressSpace& bus = (*board)->bus();
  ASSERT_TRUE(bus.write(0x100000, 4, 0x5555));
  ASSERT_TRUE(bus.write(0x100000, 4, 0x7777));
  ASSERT_TRUE(bus.write(0x100000, 4, (42u << 16) | 0x3333));
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].kind, PowerEvent::Kind::kPowerOff);
  EXPECT_EQ(events[1].kind, PowerEvent::Kind::kReset);
  EXPECT_EQ(events[2].kind, PowerEvent::Kind::kFail);
  EXPECT_EQ(events[2].code, 42);
}

TEST_F(BoardTest, SerialOutputReachesTheSink) {
  BoardConfig c = config();
  std::string output;
  c.serial_output = [&](uint8_t byte) { output.push_back(static_cast<char>(byte)); };
  Result<std::unique_ptr<Board>> board = Board::create(std::move(c));
  ASSERT_TRUE(board.ok()) << board.error().message();
  for (char ch : std::string("ok\n")) {
    ASSERT_TRUE((*board)->bus().write(0x1000'0000, 1, static_cast<uint8_t>(ch)));
  }
  EXPECT_EQ(output, "ok\n");
}

}  // namespace
}  // namespace vessel::machine
