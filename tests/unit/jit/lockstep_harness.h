// Two harts on identical RAM, one interpreting and one running translated
// blocks, stepped by the same budgets and compared: the lockstep tests and
// the lockstep fuzz target (fuzz/jit_lockstep_fuzz.cc) run programs in it.
//
// RAM (4 MiB at 0x80000000): boot code at the base sets up the harness and
// jumps to the program at kCode, whose every trap goes to a handler that
// skips the 4-byte instruction that trapped. x28 holds the code's address,
// x29 the data area's; the handler uses x31. Programs should leave those
// three alone (Generator never writes x28..x31).
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "../cpu/rv_asm.h"
#include "cpu/riscv/csr_numbers.h"
#include "cpu/riscv/hart.h"
#include "jit/x86_compiler.h"

namespace vessel::cpu::riscv::lockstep {

constexpr uint64_t kRamBase = 0x80000000;
constexpr uint64_t kRamSize = 4 << 20;
constexpr uint64_t kHandler = kRamBase + 0x1000;
constexpr uint64_t kCode = kRamBase + 0x2000;
constexpr uint64_t kData = kRamBase + 0x100000;
constexpr uint64_t kDataSize = 0x2000;
constexpr unsigned kCodeInsns = 512;
constexpr unsigned kHandlerScratch = 31, kDataBase = 29, kCodeBase = 28;

// An address below 4 GiB whose low 12 bits are below 0x800 into rd: lui,
// shifts (lui alone sign-extends), addi.
inline std::vector<uint32_t> load_address(unsigned rd, uint64_t address) {
  using namespace test_asm;
  return {lui(rd, static_cast<uint32_t>(address >> 12)), slli(rd, rd, 32),
          i(0x13, 5, rd, rd, 32),  // srli rd, rd, 32
          addi(rd, rd, static_cast<int32_t>(address & 0xfff))};
}

// One hart and its RAM; `jit` gives it a translator.
class Machine {
 public:
  explicit Machine(bool jit) {
    if (!bus.map_ram(kRamBase, kRamSize).ok()) fail("cannot map the test RAM");
    if (jit) {
      auto compiler = jit::make_x86_compiler(hart.jit_layout());
      if (!compiler.ok()) fail(compiler.error().message().c_str());
      hart.set_compiler(std::move(compiler).value(), 0);  // every block translated
    }
    hart.reset(kRamBase);
  }
  void write(uint64_t address, const void* bytes, size_t size) {
    std::memcpy(bus.ram_ptr(address, size), bytes, size);
  }
  void code(uint64_t address, const std::vector<uint32_t>& insns) {
    write(address, insns.data(), insns.size() * 4);
  }
  const uint8_t* memory(uint64_t address, size_t size) { return bus.ram_ptr(address, size); }

  memory::AddressSpace bus;
  GuestClock clock;
  Hart hart{bus, clock, 0};

 private:
  [[noreturn]] static void fail(const char* why) {
    std::fprintf(stderr, "lockstep harness: %s\n", why);
    std::abort();
  }
};

// The boot code: x28, x29, mtvec, mstatus.FS, then to the program.
inline std::vector<uint32_t> boot_code() {
  using namespace test_asm;
  std::vector<uint32_t> boot;
  for (const auto& part : {load_address(kDataBase, kData), load_address(kCodeBase, kCode),
                           load_address(kHandlerScratch, kHandler)}) {
    boot.insert(boot.end(), part.begin(), part.end());
  }
  boot.push_back(csrrw(0, csr::kMtvec, kHandlerScratch));
  boot.push_back(lui(kHandlerScratch, 0x2));  // mstatus.FS = initial
  boot.push_back(csrrs(0, csr::kMstatus, kHandlerScratch));
  boot.push_back(i(0x67, 0, 0, kCodeBase, 0));  // jr x28
  return boot;
}

// The handler: mepc += 4, mret.
inline std::vector<uint32_t> trap_handler() {
  using namespace test_asm;
  return {csrrs(kHandlerScratch, csr::kMepc, 0), addi(kHandlerScratch, kHandlerScratch, 4),
          csrrw(0, csr::kMepc, kHandlerScratch), kMret};
}

struct Row {
  Op op;
  uint32_t mask, match;
  Format format;
};
inline const Row kRows[] = {
#define VESSEL_ROW(op, name, mask, match, format, end) {Op::op, mask, match, Format::format},
    VESSEL_RISCV_INSTRUCTIONS(VESSEL_ROW)
#undef VESSEL_ROW
};

// CSRs random code may touch without wrecking the harness.
inline const unsigned kSafeCsrs[] = {csr::kMscratch, csr::kMinstret, 0x001 /*fflags*/,
                                     0x002 /*frm*/,  0x003 /*fcsr*/, 0x140 /*sscratch*/};

// Random instructions for a program of kCodeInsns, from `Source` (a
// std::mt19937_64 or anything else with operator() giving 64 bits).
template <typename Source>
class Generator {
 public:
  explicit Generator(Source source) : rng_(std::move(source)) {}

  uint32_t instruction(unsigned index) {
    for (;;) {
      const Row& row = kRows[pick(std::size(kRows))];
      if (row.op == Op::kMret || row.op == Op::kSret) continue;  // would leave the harness
      uint32_t insn = (static_cast<uint32_t>(rng_()) & ~row.mask) | row.match;
      insn = (insn & ~(31u << 7)) | (1 + pick(27)) << 7;  // rd: x1..x27
      switch (row.op) {
        case Op::kJal:
          return test_asm::jal(pick(2) ? 1 : 0, branch_offset(index));
        case Op::kJalr:  // to an instruction of the program
          return test_asm::i(0x67, 0, 1 + pick(27), kCodeBase,
                             static_cast<int32_t>(4 * pick(kCodeInsns)));
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
        return test_asm::b(f3, (insn >> 15) & 31, (insn >> 20) & 31, branch_offset(index));
      }
      const bool memory = row.op >= Op::kLb && row.op <= Op::kSd;
      const bool fp_memory = row.op >= Op::kFlw && row.op <= Op::kFsd;
      if ((memory || fp_memory) && pick(8) != 0) insn = (insn & ~(31u << 15)) | kDataBase << 15;
      return insn;
    }
  }
  uint32_t pick(uint64_t n) { return static_cast<uint32_t>(rng_() % n); }
  uint64_t next() { return rng_(); }

 private:
  // A branch within the program.
  int32_t branch_offset(unsigned index) {
    const int low = -static_cast<int>(std::min(index, 32u));
    const int high = static_cast<int>(std::min(kCodeInsns - 1 - index, 32u));
    return 4 * (low + static_cast<int>(pick(static_cast<uint64_t>(high - low + 1))));
  }
  Source rng_;
};

class Lockstep {
 public:
  Lockstep(const std::vector<uint32_t>& program, const void* data) {
    for (Machine* m : {&interp_, &jit_}) {
      m->code(kRamBase, boot_code());
      m->code(kHandler, trap_handler());
      m->code(kCode, program);
      m->write(kData, data, kDataSize);
    }
  }
  // Runs both harts for `budget` instructions, a machine timer interrupt
  // pending meanwhile if `interrupt`. Returns the first difference in their
  // state, or "" if there is none.
  std::string step(uint64_t budget, bool interrupt) {
    for (Machine* m : {&interp_, &jit_}) {
      if (interrupt) m->hart.set_interrupt_pending(kMtip, true);
      m->hart.run(budget);
      if (interrupt) m->hart.set_interrupt_pending(kMtip, false);
    }
    const Hart &a = interp_.hart, &b = jit_.hart;
    if (a.pc() != b.pc()) return differ("pc", a.pc(), b.pc());
    if (a.instret() != b.instret()) return differ("instret", a.instret(), b.instret());
    if (a.privilege() != b.privilege()) {
      return differ("privilege", static_cast<uint64_t>(a.privilege()),
                    static_cast<uint64_t>(b.privilege()));
    }
    for (unsigned r = 0; r < 32; ++r) {
      if (a.reg(r) != b.reg(r))
        return differ(("x" + std::to_string(r)).c_str(), a.reg(r), b.reg(r));
    }
    for (unsigned r = 0; r < 32; ++r) {
      if (a.freg(r) != b.freg(r)) {
        return differ(("f" + std::to_string(r)).c_str(), a.freg(r), b.freg(r));
      }
    }
    if (std::memcmp(interp_.memory(kData, kDataSize), jit_.memory(kData, kDataSize), kDataSize)) {
      return "the data areas differ";
    }
    return "";
  }

  const Hart& translated() const { return jit_.hart; }

 private:
  static std::string differ(const char* what, uint64_t interpreted, uint64_t translated) {
    char text[128];
    std::snprintf(text, sizeof(text), "%s: interpreter %#llx, jit %#llx", what,
                  static_cast<unsigned long long>(interpreted),
                  static_cast<unsigned long long>(translated));
    return text;
  }
  Machine interp_{false};
  Machine jit_{true};
};

}  // namespace vessel::cpu::riscv::lockstep
