// Lockstep differential testing of the JIT against the interpreter: the
// same program on two harts with identical RAM, one interpreting and one
// running translated blocks, both stepped by the same random budgets; their
// architectural state (pc, x registers, instret, privilege, data memory)
// must be equal after every step. The programs are random instructions of
// every RV64G row of the ISA table, with operands steered so that they keep
// running (branches stay in the program, loads and stores mostly hit a data
// area, some fault on purpose), and a trap handler that skips whatever trapped.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

#include "../cpu/rv_asm.h"
#include "cpu/riscv/csr_numbers.h"
#include "cpu/riscv/hart.h"
#include "jit_machine.h"

namespace vessel::cpu::riscv {
namespace {

using namespace test_asm;

constexpr uint64_t kHandler = kRamBase + 0x1000;
constexpr uint64_t kCode = kRamBase + 0x2000;
constexpr unsigned kCodeInsns = 512;
constexpr uint64_t kData = kRamBase + 0x100000;
constexpr uint64_t kDataSize = 0x2000;
// Registers the random code never writes: the trap handler's scratch, the
// data base and the code base.
constexpr unsigned kHandlerScratch = 31, kHandlerScratch2 = 30, kDataBase = 29, kCodeBase = 28;

struct Row {
  Op op;
  uint32_t mask, match;
  Format format;
};
const Row kRows[] = {
#define VESSEL_ROW(op, name, mask, match, format, end) {Op::op, mask, match, Format::format},
    VESSEL_RISCV_INSTRUCTIONS(VESSEL_ROW)
#undef VESSEL_ROW
};

// CSRs random code may touch without wrecking the harness.
const unsigned kSafeCsrs[] = {csr::kMscratch, csr::kMinstret, 0x001 /*fflags*/,
                              0x002 /*frm*/,  0x003 /*fcsr*/, 0x140 /*sscratch*/};

class Generator {
 public:
  explicit Generator(uint32_t seed) : rng_(seed) {}

  uint32_t instruction(unsigned index) {
    for (;;) {
      const Row& row = kRows[pick(std::size(kRows))];
      if (row.op == Op::kMret || row.op == Op::kSret) continue;  // would leave the harness
      uint32_t insn = (static_cast<uint32_t>(rng_()) & ~row.mask) | row.match;
      insn = (insn & ~(31u << 7)) | (1 + pick(27)) << 7;  // rd: x1..x27
      switch (row.op) {
        case Op::kJal:
          return jal(pick(2) ? 1 : 0, branch_offset(index));
        case Op::kJalr:  // to an instruction of the program
          return i(0x67, 0, 1 + pick(27), kCodeBase, static_cast<int32_t>(4 * pick(kCodeInsns)));
        case Op::kLrW:
        case Op::kScW:
        case Op::kAmoW:
        case Op::kLrD:
        case Op::kScD:
        case Op::kAmoD:
          if (pick(8) != 0) insn = (insn & ~(31u << 15)) | kDataBase << 15;
          return insn;
        case Op::kCsrrw:
        case Op::kCsrrs:
        case Op::kCsrrc:
        case Op::kCsrrwi:
        case Op::kCsrrsi:
        case Op::kCsrrci:
          return (insn & 0xfffff) | kSafeCsrs[pick(std::size(kSafeCsrs))] << 20;
        default:
          break;
      }
      if (row.format == Format::kB) {
        const uint32_t f3 = (insn >> 12) & 7;
        return b(f3, (insn >> 15) & 31, (insn >> 20) & 31, branch_offset(index));
      }
      const bool memory = row.op >= Op::kLb && row.op <= Op::kSd;
      const bool fp_memory = row.op >= Op::kFlw && row.op <= Op::kFsd;
      if ((memory || fp_memory) && pick(8) != 0) insn = (insn & ~(31u << 15)) | kDataBase << 15;
      return insn;
    }
  }
  uint32_t pick(uint64_t n) { return static_cast<uint32_t>(rng_() % n); }
  uint64_t word() { return rng_(); }

 private:
  // A branch within the program.
  int32_t branch_offset(unsigned index) {
    const int low = -static_cast<int>(std::min(index, 32u));
    const int high = static_cast<int>(std::min(kCodeInsns - 1 - index, 32u));
    return 4 * (low + static_cast<int>(pick(static_cast<uint64_t>(high - low + 1))));
  }
  std::mt19937_64 rng_;
};

std::vector<uint32_t> harness() {
  std::vector<uint32_t> boot;
  auto append = [&](const std::vector<uint32_t>& more) {
    boot.insert(boot.end(), more.begin(), more.end());
  };
  append(load_address(kDataBase, kData));
  append(load_address(kCodeBase, kCode));
  append(load_address(kHandlerScratch, kHandler));
  boot.push_back(csrrw(0, csr::kMtvec, kHandlerScratch));
  boot.push_back(lui(kHandlerScratch, 0x2));  // mstatus.FS = initial
  boot.push_back(csrrs(0, csr::kMstatus, kHandlerScratch));
  boot.push_back(i(0x67, 0, 0, kCodeBase, 0));  // jr code
  return boot;
}

// The handler: mepc += 4 (every random instruction is 4 bytes), mret.
std::vector<uint32_t> handler() {
  return {csrrs(kHandlerScratch, csr::kMepc, 0), addi(kHandlerScratch, kHandlerScratch, 4),
          csrrw(0, csr::kMepc, kHandlerScratch), kMret};
}

void expect_same(Machine& interp, Machine& jit, uint32_t seed, unsigned step) {
  SCOPED_TRACE("seed " + std::to_string(seed) + ", step " + std::to_string(step));
  ASSERT_EQ(interp.hart.pc(), jit.hart.pc());
  ASSERT_EQ(interp.hart.instret(), jit.hart.instret());
  ASSERT_EQ(interp.hart.privilege(), jit.hart.privilege());
  for (unsigned r = 0; r < 32; ++r) ASSERT_EQ(interp.hart.reg(r), jit.hart.reg(r)) << "x" << r;
}

void run_program(uint32_t seed, unsigned steps) {
  Generator gen(seed);
  Machine interp(false), jit(true);
  std::vector<uint32_t> code(kCodeInsns);
  for (unsigned n = 0; n < kCodeInsns; ++n) code[n] = gen.instruction(n);
  std::vector<uint64_t> data(kDataSize / 8);
  for (uint64_t& word : data) word = gen.word();
  const std::vector<uint32_t> boot = harness(), trap = handler();
  for (Machine* m : {&interp, &jit}) {
    m->write(kRamBase, boot.data(), boot.size() * 4);
    m->write(kHandler, trap.data(), trap.size() * 4);
    m->write(kCode, code.data(), code.size() * 4);
    m->write(kData, data.data(), kDataSize);
  }
  for (unsigned step = 0; step < steps; ++step) {
    const uint64_t budget = 1 + gen.pick(step % 4 == 0 ? 2000 : 40);
    // Now and then a machine timer interrupt, raised between steps.
    const bool interrupt = gen.pick(16) == 0;
    for (Machine* m : {&interp, &jit}) {
      if (interrupt) m->hart.set_interrupt_pending(kMtip, true);
      m->hart.run(budget);
      if (interrupt) m->hart.set_interrupt_pending(kMtip, false);
    }
    expect_same(interp, jit, seed, step);
    if (::testing::Test::HasFatalFailure()) return;
  }
  ASSERT_EQ(std::memcmp(interp.memory(kData, kDataSize), jit.memory(kData, kDataSize), kDataSize),
            0)
      << "data memory differs, seed " << seed;
}

TEST(JitLockstep, RandomProgramsMatchTheInterpreter) {
  for (uint32_t seed = 1; seed <= 400; ++seed) {
    run_program(seed, 200);
    if (HasFatalFailure()) return;
  }
}

// A loop long enough to run many passes inside one translated block, with
// instret read back: the counts must stay exact across passes and exits.
TEST(JitLockstep, CountedLoopKeepsInstretExact) {
  Machine interp(false), jit(true);
  const std::vector<uint32_t> loop = {
      addi(5, 0, 1000),             // t0 = 1000
      addi(6, 6, 3),                // loop: t1 += 3
      addi(5, 5, -1),               // t0 -= 1
      bne(5, 0, -8),                // while t0 != 0
      csrrs(7, csr::kMinstret, 0),  // t2 = instret
      jal(0, 0),                    // spin
  };
  for (Machine* m : {&interp, &jit}) m->write(kRamBase, loop.data(), loop.size() * 4);
  for (unsigned step = 0; step < 50; ++step) {
    for (Machine* m : {&interp, &jit}) m->hart.run(97);
    expect_same(interp, jit, 0, step);
  }
  EXPECT_EQ(jit.hart.reg(6), 3000u);
  // Retired before the csrr: the first addi and 1000 passes of three.
  EXPECT_EQ(jit.hart.reg(7), 3001u);
}

}  // namespace
}  // namespace vessel::cpu::riscv
