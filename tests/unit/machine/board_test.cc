// The assembled `virt` board: configuration checks, devices at their
// addresses, harts at the boot state QEMU's reset vector produces.
#include "machine/board.h"

#include <gtest/gtest.h>
#include <libfdt.h>

#include <chrono>
#include <cstring>
#include <string>
#include <thread>

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

// The GPIO controller's registers the tests below use.
constexpr uint64_t kGpioInputVal = 0x00, kGpioInputEn = 0x04, kGpioRiseIe = 0x18,
                   kGpioRiseIp = 0x1c, kGpioFallIe = 0x20, kGpioFallIp = 0x24;
constexpr uint64_t kPlicPending = 0x1000;

uint32_t read32(memory::AddressSpace& bus, uint64_t address) {
  uint64_t value = 0;
  EXPECT_TRUE(bus.read(address, 4, value)) << std::hex << address;
  return static_cast<uint32_t>(value);
}

bool plic_pending(memory::AddressSpace& bus, unsigned source) {
  const uint64_t word = map_entry(Region::kPlic).base + kPlicPending + 4 * (source / 32);
  return (read32(bus, word) >> (source % 32)) & 1;
}

TEST_F(BoardTest, PowerButtonPressesTheGpioPinAndLetsGo) {
  Result<std::unique_ptr<Board>> board = Board::create(config());
  ASSERT_TRUE(board.ok()) << board.error().message();
  Board& b = **board;
  memory::AddressSpace& bus = b.bus();
  const uint64_t gpio = map_entry(Region::kGpio).base;
  const uint32_t pin = 1u << kPowerButtonPin;
  const unsigned source = gpio_pin_irq(kPowerButtonPin);
  // As Linux's gpio-sifive sets it up for gpio-keys: an input, both edges.
  ASSERT_TRUE(bus.write(gpio + kGpioInputEn, 4, pin));
  ASSERT_TRUE(bus.write(gpio + kGpioRiseIe, 4, pin));
  ASSERT_TRUE(bus.write(gpio + kGpioFallIe, 4, pin));
  EXPECT_FALSE(b.power_button_pressed());
  EXPECT_FALSE(plic_pending(bus, source));

  const auto pressed_at = std::chrono::steady_clock::now();
  b.press_power_button();
  EXPECT_TRUE(b.power_button_pressed());
  EXPECT_EQ(read32(bus, gpio + kGpioInputVal) & pin, pin);
  EXPECT_TRUE(plic_pending(bus, source));
  EXPECT_EQ(read32(bus, gpio + kGpioRiseIp), pin);
  ASSERT_TRUE(bus.write(gpio + kGpioRiseIp, 4, pin));  // the driver's eoi

  // The button lets go by itself, after 100 ms.
  while (b.power_button_pressed() &&
         std::chrono::steady_clock::now() - pressed_at < std::chrono::seconds(10)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_GE(std::chrono::steady_clock::now() - pressed_at, std::chrono::milliseconds(100));
  EXPECT_FALSE(b.power_button_pressed());
  EXPECT_EQ(read32(bus, gpio + kGpioInputVal) & pin, 0u);
  EXPECT_EQ(read32(bus, gpio + kGpioFallIp), pin);
}

TEST_F(BoardTest, SaveLoadKeepsTheGpioController) {
  Result<std::unique_ptr<Board>> board = Board::create(config());
  ASSERT_TRUE(board.ok()) << board.error().message();
  memory::AddressSpace& bus = (*board)->bus();
  const uint64_t gpio = map_entry(Region::kGpio).base;
  ASSERT_TRUE(bus.write(gpio + kGpioInputEn, 4, 0xff));
  ASSERT_TRUE(bus.write(gpio + kGpioFallIe, 4, 0x05));
  ASSERT_TRUE(bus.write(gpio + kGpioRiseIp, 4, 0xff));
  StateWriter out;
  (*board)->save(out);

  Result<std::unique_ptr<Board>> copy = Board::create(config());
  ASSERT_TRUE(copy.ok()) << copy.error().message();
  StateReader in(out.data());
  Result<void> loaded = (*copy)->load(in);
  ASSERT_TRUE(loaded.ok()) << loaded.error().message();
  memory::AddressSpace& copy_bus = (*copy)->bus();
  EXPECT_EQ(read32(copy_bus, gpio + kGpioInputEn), 0xffu);
  EXPECT_EQ(read32(copy_bus, gpio + kGpioFallIe), 0x05u);
  EXPECT_EQ(read32(copy_bus, gpio + kGpioRiseIp), 0u);
  EXPECT_FALSE((*copy)->power_button_pressed());
}

// A state saved before the board had the GPIO controller: the "board"
// section at version 1, no "sifive-gpio" or "push-button" section.
std::vector<uint8_t> as_version_1(const std::vector<uint8_t>& v2) {
  std::vector<uint8_t> out;
  size_t at = 0;
  while (at < v2.size()) {
    uint32_t name_length = 0;
    std::memcpy(&name_length, &v2[at], 4);
    const std::string name(reinterpret_cast<const char*>(&v2[at + 4]), name_length);
    const size_t version_at = at + 4 + name_length;
    uint64_t payload_length = 0;
    std::memcpy(&payload_length, &v2[version_at + 4], 8);
    const size_t end = version_at + 12 + payload_length;
    if (name != "sifive-gpio" && name != "push-button") {
      const size_t start = out.size();
      out.insert(out.end(), v2.begin() + static_cast<long>(at),
                 v2.begin() + static_cast<long>(end));
      if (name == "board") {
        const uint32_t one = 1;
        std::memcpy(&out[start + 4 + name_length], &one, 4);
      }
    }
    at = end;
  }
  return out;
}

TEST_F(BoardTest, LoadsAStateSavedWithoutTheGpioController) {
  Result<std::unique_ptr<Board>> board = Board::create(config());
  ASSERT_TRUE(board.ok()) << board.error().message();
  ASSERT_TRUE((*board)->bus().write(0x1000'0007, 1, 0x5a));  // UART scratch
  StateWriter out;
  (*board)->save(out);
  const std::vector<uint8_t> v1 = as_version_1(out.data());
  ASSERT_LT(v1.size(), out.data().size());

  Result<std::unique_ptr<Board>> copy = Board::create(config());
  ASSERT_TRUE(copy.ok()) << copy.error().message();
  StateReader in(v1);
  Result<void> loaded = (*copy)->load(in);
  ASSERT_TRUE(loaded.ok()) << loaded.error().message();
  EXPECT_TRUE(in.at_end());
  uint64_t scratch = 0;
  ASSERT_TRUE((*copy)->bus().read(0x1000'0007, 1, scratch));
  EXPECT_EQ(scratch, 0x5au);
}

// /chosen/rng-seed of the device tree in guest RAM.
std::vector<uint8_t> rng_seed(Board& b) {
  const void* fdt = b.bus().ram_ptr(b.boot_info().dtb_address, b.boot_info().dtb_size);
  int length = 0;
  const auto* p = static_cast<const uint8_t*>(
      fdt_getprop(fdt, fdt_path_offset(fdt, "/chosen"), "rng-seed", &length));
  return p != nullptr ? std::vector<uint8_t>(p, p + length) : std::vector<uint8_t>();
}

// A machine reset: what the guest changed in the machine is undone, the
// boot images are back as loaded, and what lies outside the machine (the
// rest of RAM, the disks' contents) is kept.
TEST_F(BoardTest, ResetRestoresDevicesHartsAndBootImages) {
  BoardConfig c = config();
  c.disks.push_back({dir_.file("disk.img", std::vector<uint8_t>(4096, 0)), false});
  Result<std::unique_ptr<Board>> board = Board::create(std::move(c));
  ASSERT_TRUE(board.ok()) << board.error().message();
  Board& b = **board;
  memory::AddressSpace& bus = b.bus();
  const uint64_t ram = bus.ram_base(), clint = map_entry(Region::kClint).base,
                 plic = map_entry(Region::kPlic).base, uart = map_entry(Region::kUart0).base,
                 rtc = map_entry(Region::kRtc).base, gpio = map_entry(Region::kGpio).base,
                 disk = virtio_slot_base(0);
  const std::vector<uint8_t> seed = rng_seed(b);
  ASSERT_EQ(seed.size(), 32u);

  // What a running guest leaves behind.
  ASSERT_TRUE(bus.write(ram, 4, 0xdeadbeef));          // over its firmware
  ASSERT_TRUE(bus.write(ram + 0x40'0000, 4, 0x1234));  // RAM of its own
  b.hart(1).set_pc(ram + 0x1000);
  b.hart(1).set_reg(5, 7);
  ASSERT_TRUE(bus.write(clint + 0x4000, 8, 0));                  // mtimecmp[0]: MTIP now
  ASSERT_TRUE(bus.write(clint + 4, 4, 1));                       // msip[1]
  ASSERT_TRUE(bus.write(clint + 0xbff8, 8, uint64_t{1} << 40));  // mtime: days later
  ASSERT_TRUE(bus.write(plic + 4 * 10, 4, 5));                   // priority of UART0's source
  ASSERT_TRUE(bus.write(plic + 0x2000, 4, 1u << 10));            // context 0 enables it
  ASSERT_TRUE(bus.write(uart + 7, 1, 0x5a));                     // scratch register
  ASSERT_TRUE(bus.write(uart + 1, 1, 0x02));                     // THR-empty interrupt on
  ASSERT_TRUE(bus.write(rtc + 0x10, 4, 1));                      // alarm interrupt on
  ASSERT_TRUE(bus.write(gpio + kGpioInputEn, 4, 0xff));
  ASSERT_TRUE(bus.write(disk + 0x70, 4, 1 | 2));  // ACKNOWLEDGE | DRIVER
  EXPECT_TRUE(b.ipi_pending(1));
  EXPECT_TRUE(plic_pending(bus, 10));

  b.reset();

  EXPECT_EQ(read32(bus, ram), 0x13131313u);  // the firmware as loaded
  EXPECT_EQ(read32(bus, ram + 0x40'0000), 0x1234u);
  EXPECT_EQ(b.hart(1).pc(), b.boot_info().entry());
  EXPECT_EQ(b.hart(1).reg(5), 0u);
  EXPECT_EQ(b.hart(1).reg(10), 1u);
  EXPECT_EQ(b.hart(1).reg(11), b.boot_info().dtb_address);
  EXPECT_EQ(b.next_timer_deadline(0), UINT64_MAX);
  EXPECT_FALSE(b.ipi_pending(1));
  uint64_t mtime = 0;
  ASSERT_TRUE(bus.read(clint + 0xbff8, 8, mtime));
  EXPECT_LT(mtime, 10 * GuestClock::kFrequency);  // counting from 0 again
  EXPECT_EQ(read32(bus, plic + 4 * 10), 0u);
  EXPECT_EQ(read32(bus, plic + 0x2000), 0u);
  EXPECT_FALSE(plic_pending(bus, 10));  // the UART's line fell with its reset
  EXPECT_EQ(read32(bus, rtc + 0x10), 0u);
  EXPECT_EQ(read32(bus, gpio + kGpioInputEn), 0u);
  EXPECT_EQ(read32(bus, disk + 0x70), 0u);
  uint64_t scratch = 0;
  ASSERT_TRUE(bus.read(uart + 7, 1, scratch));
  EXPECT_EQ(scratch, 0u);
  // QEMU 7.2 gives the guest a fresh seed at every reset.
  const std::vector<uint8_t> reseeded = rng_seed(b);
  EXPECT_EQ(reseeded.size(), seed.size());
  EXPECT_NE(reseeded, seed);
}

}  // namespace
}  // namespace vessel::machine
