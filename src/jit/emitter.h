// The emitter of one guest block's x86-64 code (see block_emitter.cc for
// the shape of the code and its registers). Its parts: block_emitter.cc
// (the block, its exits and links, memory accesses, what the interpreter
// runs), int_emitter.cc (RV64IM), fp_emitter.cc (F and D).
#pragma once

#include <asmjit/x86.h>

#include <cstdint>
#include <functional>
#include <utility>
#include <vector>

#include "cpu/riscv/block_compiler.h"
#include "jit/stubs.h"

namespace vessel::jit::detail {

using namespace asmjit;
using cpu::riscv::BlockSource;
using cpu::riscv::DecodedInsn;
using cpu::riscv::HartLayout;
using cpu::riscv::kZeroSink;
using cpu::riscv::Op;

inline const x86::Gp kHart = x86::r12;
inline const x86::Gp kRegs = x86::rbx;
inline const x86::Gp kBudget = x86::r13;
inline const x86::Gp kEarlier = x86::r14;
inline const x86::Gp kDirtyFlag = x86::r15;
// Host registers that hold guest registers within a block (most are
// caller-saved: reloaded after every call; rbp is saved by the entry stub).
inline const x86::Gp kCacheRegs[] = {x86::r8,  x86::r9,  x86::r10, x86::r11,
                                     x86::rsi, x86::rdi, x86::rbp};

template <typename F>
inline Imm address_of(F* function) {
  return imm(reinterpret_cast<uint64_t>(function));
}

class Emitter {
 public:
  Emitter(x86::Assembler& a, const HartLayout& layout, const BlockSource& source,
          const Stubs& stubs)
      : a_(a),
        layout_(layout),
        source_(source),
        stubs_(stubs),
        host_fma_(CpuInfo::host().hasFeature(CpuFeatures::X86::kFMA)) {}

  void emit();

 private:
  // Guest register r in the hart (current there unless cached and written
  // since the last sync()).
  x86::Mem mem(unsigned r) const { return x86::qword_ptr(kRegs, static_cast<int32_t>(8 * r)); }
  x86::Mem mem32(unsigned r) const { return x86::dword_ptr(kRegs, static_cast<int32_t>(8 * r)); }
  bool cached(unsigned r) const { return cache_[r] >= 0; }
  const x86::Gp& host(unsigned r) const { return kCacheRegs[cache_[r]]; }
  // Guest register r as a source operand: its host register if cached.
  Operand src(unsigned r) const { return cached(r) ? Operand(host(r)) : Operand(mem(r)); }
  Operand src32(unsigned r) const { return cached(r) ? Operand(host(r).r32()) : Operand(mem32(r)); }
  // x[rd] = value (x0 and its sink ignore it): into its host register if
  // cached, else into the hart.
  void set_reg(unsigned rd, const x86::Gp& value) {
    if (rd == 0 || rd == kZeroSink) return;
    if (cached(rd)) {
      if (host(rd) != value) a_.mov(host(rd), value);
    } else {
      a_.mov(mem(rd), value);
    }
  }
  // The block's most used guest registers live in host registers, written
  // back to the hart only by sync(): before whatever reads the hart's
  // registers (helpers, exits, a trap). Calls clobber them: reloaded after.
  void choose_cached();
  void load_cached();
  void sync();
  // Jumps to `out` unless a whole pass fits in the budget and nobody waits
  // for the hart's attention (at the block's start and a loop's back edge).
  void check_pass(Label out);
  // For a block whose instruction straddles two pages (BlockSource::straddles).
  void check_second_half();
  // mov/op with a guest register source.
  void emit(InstId id, const Operand& destination, const Operand& source) {
    a_.emit(id, destination, source);
  }
  x86::Mem field(int32_t offset) const { return x86::qword_ptr(kHart, offset); }
  uint64_t pc_of(unsigned i) const { return source_.pc + source_.insns[i].offset; }

  void set_pc(uint64_t pc) {
    a_.mov(x86::rax, imm(pc));
    a_.mov(field(layout_.pc), x86::rax);
  }
  // Adds the instructions retired since the last count to instret.
  void retire(unsigned up_to) {
    if (up_to > counted_) a_.add(field(layout_.instret), imm(up_to - counted_));
    counted_ = up_to;
  }
  // Returns `attempted` (plus earlier passes) from the block.
  void return_attempted(unsigned attempted) {
    a_.lea(x86::rax, x86::ptr(kEarlier, static_cast<int32_t>(attempted)));
    a_.jmp(imm(stubs_.leave));
  }
  // Leaves the block after instruction attempted - 1 retired.
  void leave(unsigned attempted) {
    retire(attempted);
    return_attempted(attempted);
  }
  // Leaves for a fixed guest pc, after instruction attempted - 1 retired.
  // Targets in the block's page get a link (see ExitLink and the link
  // stub); others go as indirect jumps do.
  void exit_to(uint64_t target, unsigned attempted);
  // Leaves for the guest pc in rax through the indirect stub: straight into
  // its translation when the recent table has it, else back to the hart.
  void exit_indirect(unsigned attempted);
  void jump_indirect(unsigned attempted);  // guest pc in rsi
  // A cold path, emitted after the block; it sees the count of retired
  // instructions as it was when it was created.
  void cold(std::function<void()> path);
  // Where instruction i goes when it traps: pc and instret exact, the trap
  // taken, the block left.
  Label trap_exit(unsigned i);
  // Jumps to `miss` unless the TLB at `tlb` maps the `size`-byte access at
  // rax within one page; on a hit rdx indexes the entry (times 3).
  void tlb_lookup(int32_t tlb, unsigned size, Label miss);
  void effective_address(const DecodedInsn& d);

  void load(unsigned i, unsigned size, bool sign);

  void store(unsigned i, unsigned size);

  void branch(unsigned i);

  // Runs instruction i through the interpreter's execute(). Returns true if
  // it ends the block.
  bool generic(unsigned i);

  // Where an ALU operation computes x[rd]: rd's host register or rax.
  x86::Gp alu_destination(const DecodedInsn& d) const;
  // x[rd] = x[rs1] OP x[rs2] (or OP imm), 64-bit; `op(r)` applies OP to r.
  template <typename Emit>
  void alu(const DecodedInsn& d, Emit op);
  // The W forms: a 32-bit operation, its result sign-extended.
  template <typename Emit>
  void alu32(const DecodedInsn& d, Emit op);
  void set_if(const DecodedInsn& d, x86::CondCode condition, const Operand& rhs);

  // The host's div and idiv, inline; their faults (a zero divisor, and the
  // most negative dividend over -1) are RISC-V's corner cases, which the
  // C++ helpers compute out of line.
  void divide(const DecodedInsn& d);

  // Emits instruction i; returns true if it ends the block.
  bool instruction(unsigned i);

  // ---- F and D ----
  // The common cases run on the host's SSE unit, exactly: IEEE arithmetic
  // rounds alike everywhere, so what differs is only the flags, NaNs and
  // rounding modes. The fast paths run only with round-to-nearest (static
  // or from frm), with inexact already accrued in fflags (sticky, so an
  // inexact result changes nothing), and with a normal, finite result from
  // boxed, non-NaN operands: then no other flag can be raised and no NaN is
  // made. Everything else (and FS off, which traps) takes the exact
  // software path of the interpreter, out of line.
  x86::Mem freg(unsigned r) const { return x86::qword_ptr(kRegs, layout_.f - layout_.x + 8 * r); }
  x86::Mem freg32(unsigned r) const {
    return x86::dword_ptr(kRegs, layout_.f - layout_.x + 8 * static_cast<int32_t>(r));
  }
  x86::Mem freg_high(unsigned r) const {
    return x86::dword_ptr(kRegs, layout_.f - layout_.x + 8 * static_cast<int32_t>(r) + 4);
  }
  // Jumps to `slow` unless FS is on; FP state is then dirty (the
  // instruction writes it, or traps in the slow path, which marks nothing).
  void require_fs(Label slow);
  void mark_fs_dirty() { a_.or_(x86::dword_ptr(kHart, layout_.mstatus), 0x6000); }
  // Jumps to `slow` unless rounding is to nearest and inexact has accrued.
  void require_nearest_inexact(unsigned rm, Label slow);
  // Jumps to `slow` unless single f[r] is NaN-boxed.
  void require_boxed(unsigned r, Label slow);
  // Jumps to `slow` unless the double in rax (or single in eax) is finite
  // and normal, and not in the lowest binade either: whether a result that
  // rounded up to the smallest normal underflowed depends on when tininess
  // is detected, which the software path knows.
  void require_normal(bool single, Label slow);
  // xmm0 into f[rd] (NaN-boxed if single), if normal; else to `slow`.
  void store_result(bool single, unsigned rd, Label slow);
  // xmm0 into f[rd], NaN-boxed if single; FP state dirty.
  void write_freg(bool single, unsigned rd);
  // The slow path of instruction i: the interpreter's execute(), then back.
  void slow_path(unsigned i, Label slow, Label done);

  // Emits instruction i if it has a fast path; false leaves it to generic().
  bool floating_point(unsigned i);

  // CSR accesses to fflags, frm and fcsr (false for other CSRs).
  bool fp_csr(unsigned i);

  bool fp_load(unsigned i, bool single);

  bool fp_store(unsigned i, bool single);

  // OP-FP (unprivileged spec ch. 11-12): funct7 names the operation and format.
  bool fp_op(unsigned i);

  // FMADD, FMSUB, FNMSUB, FNMADD (double, single) with the host's FMA3.
  bool fused(unsigned i);

  // Whether an instruction's only effect is its result in rd.
  static bool writes_only_rd(Op op) {
    return op == Op::kLui || op == Op::kAuipc || (op >= Op::kAddi && op <= Op::kSraw) ||
           (op >= Op::kMul && op <= Op::kRemuw);
  }

  x86::Assembler& a_;
  const HartLayout& layout_;
  const BlockSource& source_;
  const Stubs& stubs_;
  const bool host_fma_;
  uint64_t written_ = 0;  // cached guest registers the block writes (bit r)
  int8_t cache_[33] = {-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
                       -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1};
  unsigned counted_ = 0;  // instructions of this pass already added to instret
  Label top_;             // the block's checks, then its cached registers loaded
  Label body_;            // its first instruction
  std::vector<std::function<void()>> cold_;
  std::vector<std::pair<Label, uint64_t>> links_;  // exit links and their targets
};
}  // namespace vessel::jit::detail
