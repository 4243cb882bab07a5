// Save/restore of a whole VM: a small bare-metal program changes hart,
// device and RAM state; the state saved from that VM and restored into a
// fresh one must reproduce all of it, and the restored guest must continue
// exactly where the first one stopped.
#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "../cpu/rv_asm.h"
#include "cpu/riscv/csr_numbers.h"
#include "cpu/riscv/hart.h"
#include "vm_fixture.h"

namespace vessel::vmm {
namespace {

namespace as = cpu::riscv::test_asm;

// Registers (ABI names).
constexpr unsigned zero = 0, t0 = 5, t1 = 6, t2 = 7, s0 = 8, s1 = 9, a0 = 10, t3 = 28, t4 = 29,
                   t5 = 30, t6 = 31;

constexpr uint64_t kRamMarker = 0x8001'0000;
constexpr uint64_t kMtimecmp0 = 0x0200'4000;
constexpr uint64_t kPlicPriority10 = 0x0c00'0000 + 4 * 10;
constexpr uint64_t kUartScratch = 0x1000'0007;

// Hart 0 leaves marks in the UART, PLIC, CLINT, RAM and s0, then loops:
// s1 += 1 and report "fail with code s1" through the test device. Other
// harts disable interrupts and wait forever.
std::vector<uint32_t> program() {
  std::vector<uint32_t> code;
  size_t to_park = code.size();
  code.push_back(0);  // patched: bne a0, zero, park
  code.insert(code.end(), {
                              as::lui(t0, 0x10000),  // UART0
                              as::addi(t1, zero, 0x5a),
                              as::sb(t1, t0, 7),  // scratch register
                              as::addi(t2, zero, 1),
                              as::slli(t2, t2, 31),
                              as::lui(t3, 0x10),
                              as::add(t2, t2, t3),  // 0x80010000
                              as::addi(t3, zero, 0x123),
                              as::sd(t3, t2, 0),
                              as::lui(t0, 0xc000),  // PLIC
                              as::addi(t1, zero, 3),
                              as::sw(t1, t0, 4 * 10),  // priority of source 10
                              as::lui(t0, 0x2004),     // CLINT mtimecmp[0]
                              as::lui(t1, 0x12345),
                              as::sd(t1, t0, 0),
                              as::addi(s0, zero, 42),
                          });
  size_t loop = code.size();
  code.insert(code.end(), {
                              as::addi(s1, s1, 1),
                              as::slli(t4, s1, 16),
                              as::lui(t5, 3),
                              as::addi(t5, t5, 0x333),
                              as::or_(t4, t4, t5),  // (s1 << 16) | 0x3333: fail with code s1
                              as::lui(t6, 0x100),
                              as::sw(t4, t6, 0),
                          });
  code.push_back(as::jal(zero, -static_cast<int32_t>((code.size() - loop) * 4)));
  size_t park = code.size();
  code.push_back(as::csrrw(zero, cpu::riscv::csr::kMie, zero));
  code.push_back(as::kWfi);
  code.push_back(as::jal(zero, -4));
  code[to_park] = as::bne(a0, zero, static_cast<int32_t>((park - to_park) * 4));
  return code;
}

class VmStateTest : public VmFixture {
 protected:
  void SetUp() override {
    VmFixture::SetUp();
    set_firmware(program());
  }

  static uint64_t read(Vm& vm, uint64_t paddr, unsigned size) {
    uint64_t value = 0;
    EXPECT_TRUE(vm.board().bus().read(paddr, size, value)) << std::hex << paddr;
    return value;
  }

  static std::vector<uint8_t> save(Vm& vm) {
    StateWriter out;
    Result<void> saved = vm.save(out);
    EXPECT_TRUE(saved.ok()) << saved.error().message();
    return out.data();
  }
};

// The sections inside the top-level "vessel-vm" one, by name, with the
// fields that hold the current time zeroed (they differ between two saves).
std::map<std::string, std::vector<uint8_t>> sections(std::vector<uint8_t> blob) {
  std::map<std::string, std::vector<uint8_t>> out;
  size_t at = 0;
  auto take = [&](size_t n) {
    size_t from = at;
    at += n;
    return from;
  };
  auto u32 = [&] {
    uint32_t v;
    std::memcpy(&v, &blob[take(4)], 4);
    return v;
  };
  auto u64 = [&] {
    uint64_t v;
    std::memcpy(&v, &blob[take(8)], 8);
    return v;
  };
  uint32_t name_length = u32();
  take(name_length + 4 + 8);  // "vessel-vm", version, length
  while (at < blob.size()) {
    uint32_t n = u32();
    std::string name(reinterpret_cast<const char*>(&blob[take(n)]), n);
    u32();  // version
    uint64_t length = u64();
    std::vector<uint8_t> payload(blob.begin() + static_cast<long>(at),
                                 blob.begin() + static_cast<long>(at + length));
    take(length);
    if (name == "board") std::memset(&payload[16], 0, 8);  // guest clock
    if (name == "clint") std::memset(&payload[0], 0, 8);   // mtime
    if (out.count(name)) name += "#" + std::to_string(at);
    out[name] = payload;
  }
  return out;
}

TEST_F(VmStateTest, RoundTripReproducesHartsDevicesAndRam) {
  std::unique_ptr<Vm> first = make();
  ASSERT_NE(first, nullptr);
  Result<VmExit> exit = first->run();
  ASSERT_TRUE(exit.ok()) << exit.error().message();
  EXPECT_EQ(exit->reason, VmExit::Reason::kGuestFailure);
  EXPECT_EQ(exit->code, 1);

  cpu::riscv::Hart& h0 = first->board().hart(0);
  EXPECT_EQ(h0.reg(s0), 42u);
  EXPECT_GE(h0.reg(s1), 1u);
  EXPECT_EQ(read(*first, kUartScratch, 1), 0x5au);
  EXPECT_EQ(read(*first, kPlicPriority10, 4), 3u);
  EXPECT_EQ(read(*first, kMtimecmp0, 8), 0x12345000u);
  EXPECT_EQ(read(*first, kRamMarker, 8), 0x123u);

  std::vector<uint8_t> blob = save(*first);

  std::unique_ptr<Vm> second = make();
  ASSERT_NE(second, nullptr);
  EXPECT_EQ(read(*second, kUartScratch, 1), 0u);  // a fresh board
  StateReader in(blob);
  Result<void> restored = second->restore(in);
  ASSERT_TRUE(restored.ok()) << restored.error().message();

  for (unsigned h = 0; h < 2; ++h) {
    cpu::riscv::Hart& a = first->board().hart(h);
    cpu::riscv::Hart& b = second->board().hart(h);
    EXPECT_EQ(a.pc(), b.pc()) << "hart " << h;
    EXPECT_EQ(a.privilege(), b.privilege()) << "hart " << h;
    for (unsigned r = 0; r < 32; ++r) EXPECT_EQ(a.reg(r), b.reg(r)) << "hart " << h << " x" << r;
  }
  EXPECT_EQ(read(*second, kUartScratch, 1), 0x5au);
  EXPECT_EQ(read(*second, kPlicPriority10, 4), 3u);
  EXPECT_EQ(read(*second, kMtimecmp0, 8), 0x12345000u);
  EXPECT_EQ(read(*second, kRamMarker, 8), 0x123u);

  // Saving the restored VM gives the same state, section by section.
  std::map<std::string, std::vector<uint8_t>> before = sections(blob);
  std::map<std::string, std::vector<uint8_t>> after = sections(save(*second));
  EXPECT_GE(before.size(), 10u);  // board, 2 harts, 5 devices, 2 virtio, ram
  ASSERT_EQ(before.size(), after.size());
  for (const auto& [name, payload] : before) {
    ASSERT_TRUE(after.count(name)) << name;
    EXPECT_TRUE(payload == after[name]) << "section " << name << " differs after restore";
  }

  // The restored guest continues from the saved registers: its next report
  // is the saved counter plus one (a fresh guest would report 1).
  uint64_t counter = h0.reg(s1);
  exit = second->run();
  ASSERT_TRUE(exit.ok()) << exit.error().message();
  EXPECT_EQ(exit->reason, VmExit::Reason::kGuestFailure);
  EXPECT_EQ(static_cast<uint64_t>(exit->code), counter + 1);
}

TEST_F(VmStateTest, RestoreRejectsOtherBoardsAndDamagedState) {
  std::unique_ptr<Vm> first = make();
  ASSERT_NE(first, nullptr);
  std::vector<uint8_t> blob = save(*first);

  std::unique_ptr<Vm> one_hart = make(1);
  ASSERT_NE(one_hart, nullptr);
  StateReader in(blob);
  Result<void> restored = one_hart->restore(in);
  ASSERT_FALSE(restored.ok());
  EXPECT_NE(restored.error().message().find("different board"), std::string::npos)
      << restored.error().message();

  std::unique_ptr<Vm> second = make();
  ASSERT_NE(second, nullptr);
  std::vector<uint8_t> truncated(blob.begin(), blob.begin() + static_cast<long>(blob.size() / 2));
  StateReader cut(truncated);
  EXPECT_FALSE(second->restore(cut).ok());

  std::vector<uint8_t> garbage(blob.size(), 0x5a);
  StateReader junk(garbage);
  EXPECT_FALSE(second->restore(junk).ok());
}

TEST_F(VmStateTest, StopRequestedBeforeRunReturnsAtOnce) {
  std::unique_ptr<Vm> vm = make();
  ASSERT_NE(vm, nullptr);
  vm->request_stop({VmExit::Reason::kSignal, 15});
  Result<VmExit> exit = vm->run();
  ASSERT_TRUE(exit.ok());
  EXPECT_EQ(exit->reason, VmExit::Reason::kSignal);
  EXPECT_EQ(exit->code, 15);
}

}  // namespace
}  // namespace vessel::vmm
