// A block's exit to a fixed pc in another page is linked to the target's
// translation only while the fetch TLB maps that page as it did when the
// link was made: S-mode code calls a function on another page, remaps that
// page to other code (SFENCE.VMA of the page), and calls it again from the
// same, by then linked, call instruction.
#include <gtest/gtest.h>

#include "../cpu/rv_asm.h"
#include "lockstep_harness.h"

namespace vessel::cpu::riscv {
namespace {

using namespace test_asm;
using lockstep::kRamBase;
using lockstep::load_address;
using lockstep::Machine;

constexpr unsigned kRa = 1, kT0 = 5, kT1 = 6, kT2 = 7, kS1 = 9, kA0 = 10, kT3 = 28;
constexpr unsigned kMstatus = 0x300, kMepc = 0x341, kSatp = 0x180, kPmpcfg0 = 0x3a0,
                   kPmpaddr0 = 0x3b0;
constexpr uint64_t kRoot = kRamBase + 0x100000, kMid = kRoot + 0x1000, kLeaf = kRoot + 0x2000;
constexpr uint64_t kCaller = kRamBase + 0x5000;  // at VA 0x40000000
constexpr uint64_t kOld = kRamBase + 0x6000;     // VA 0x40001000 first
constexpr uint64_t kNew = kRamBase + 0x7000;     // VA 0x40001000 after the remapping
constexpr uint32_t kVa = 0x40000000;

uint64_t pte(uint64_t pa, uint64_t flags) {
  return (pa >> 12) << 10 | flags;
}

// M-mode: PMP open, Sv39 on, mret to S-mode at VA 0x40000000.
std::vector<uint32_t> enter_supervisor() {
  std::vector<uint32_t> p = {addi(kT0, 0, -1), i(0x13, 5, kT0, kT0, 10),  // srli: ~0 >> 10
                             csrrw(0, kPmpaddr0, kT0), addi(kT0, 0, 0x1f), csrrw(0, kPmpcfg0, kT0)};
  for (uint32_t insn : load_address(kT0, kRoot >> 12)) p.push_back(insn);
  p.insert(p.end(), {addi(kT1, 0, 8), slli(kT1, kT1, 60), or_(kT0, kT0, kT1), csrrw(0, kSatp, kT0),
                     lui(kT0, kVa >> 12), csrrw(0, kMepc, kT0), lui(kT0, 1),
                     addi(kT0, kT0, -0x800),  // MPP = S
                     csrrw(0, kMstatus, kT0), kMret});
  return p;
}

// Six calls from one jal; after the third the callee's page is remapped.
std::vector<uint32_t> caller() {
  std::vector<uint32_t> p = {addi(kS1, 0, 6)};
  for (uint32_t insn : load_address(kT2, kLeaf + 8)) p.push_back(insn);
  for (uint32_t insn : load_address(kT1, kNew)) p.push_back(insn);
  p.insert(p.end(), {i(0x13, 5, kT1, kT1, 2), i(0x13, 6, kT1, kT1, 0x4b)});  // the new PTE
  p.push_back(lui(kT3, (kVa + 0x1000) >> 12));
  const uint32_t loop = static_cast<uint32_t>(4 * p.size());
  p.insert(p.end(), {jal(kRa, static_cast<int32_t>(0x1000 - loop)), addi(kS1, kS1, -1),
                     addi(kT0, 0, 3), bne(kS1, kT0, 12), sd(kT1, kT2, 0), sfence_vma(kT3, 0)});
  p.push_back(bne(kS1, 0, static_cast<int32_t>(loop - 4 * p.size())));
  p.push_back(jal(0, 0));
  return p;
}

void run(bool jit) {
  SCOPED_TRACE(jit ? "jit" : "interpreter");
  Machine m(jit);
  const uint64_t tables[][2] = {{kRoot + 2 * 8, pte(kRamBase, 0xcf)},  // identity gigapage
                                {kRoot + 1 * 8, pte(kMid, 0x01)},
                                {kMid, pte(kLeaf, 0x01)},
                                {kLeaf, pte(kCaller, 0x4b)},  // R X A
                                {kLeaf + 8, pte(kOld, 0x4b)}};
  for (const auto& [address, value] : tables) m.write(address, &value, 8);
  m.code(kRamBase, enter_supervisor());
  m.code(kCaller, caller());
  m.code(kOld, {addi(kA0, kA0, 1), i(0x67, 0, 0, kRa, 0)});  // a0 += 1; ret
  m.code(kNew, {addi(kA0, kA0, 100), i(0x67, 0, 0, kRa, 0)});
  m.hart.run(500);
  EXPECT_EQ(m.hart.reg(kS1), 0u) << "the loop did not finish";
  EXPECT_EQ(m.hart.reg(kA0), 3u * 1 + 3u * 100) << "a call after the remapping ran the old code";
}

TEST(CrossPageLink, FollowsARemappedPage) {
  for (bool jit : {false, true}) run(jit);
}

}  // namespace
}  // namespace vessel::cpu::riscv
