// One guest block as x86-64 code.
//
// The generated function is a CompiledBlock: (Hart* rdi, budget rsi) →
// instructions attempted (rax). Its registers are all callee-saved, so the
// helpers it calls keep them:
//   r12  the Hart              rbx  &x[0]: guest register n at [rbx + 8n]
//   r13  the budget            r14  instructions run by earlier passes of a loop
//   r15  the dirty log's "enabled" flag
// Guest registers live in the hart, at fixed offsets from rbx: every
// instruction reads its sources from there and writes its result back, so
// the helpers (and a trap at any instruction) always see the whole state.
//
// The code mirrors Hart::execute_block(): straight-line code with the
// likely paths inline (ALU, TLB hits) and the rare ones after the block
// (TLB misses, traps, taken branches). pc and instret are written only where
// the block is left or a helper needs them: pc is a constant at every
// instruction, and the instructions retired are counted at translation time.
#include "jit/block_emitter.h"

#include <cstring>
#include <functional>
#include <utility>
#include <vector>

#include "cpu/riscv/int_arith.h"
#include "cpu/riscv/translation_cache.h"

namespace vessel::jit {

using namespace asmjit;
using cpu::riscv::BlockEnd;
using cpu::riscv::BlockSource;
using cpu::riscv::DecodedInsn;
using cpu::riscv::ExitLinkLayout;
using cpu::riscv::HartLayout;
using cpu::riscv::kZeroSink;
using cpu::riscv::Op;
using cpu::riscv::TlbEntryLayout;

namespace {

const x86::Gp kHart = x86::r12;
const x86::Gp kRegs = x86::rbx;
const x86::Gp kBudget = x86::r13;
const x86::Gp kEarlier = x86::r14;
const x86::Gp kDirtyFlag = x86::r15;
// Host registers that hold guest registers within a block (caller-saved:
// reloaded after every call).
const x86::Gp kCacheRegs[] = {x86::r8, x86::r9, x86::r10, x86::r11};

// The M instructions left to C++ (rare in hot code; a call is cheaper than
// the corner-case branches inline).
uint64_t op_mulhsu(uint64_t a, uint64_t b) {
  return cpu::riscv::mulhsu(static_cast<int64_t>(a), b);
}
uint64_t op_div(uint64_t a, uint64_t b) {
  return static_cast<uint64_t>(
      cpu::riscv::div_signed(static_cast<int64_t>(a), static_cast<int64_t>(b)));
}
uint64_t op_divu(uint64_t a, uint64_t b) {
  return b == 0 ? ~uint64_t{0} : a / b;
}
uint64_t op_rem(uint64_t a, uint64_t b) {
  return static_cast<uint64_t>(
      cpu::riscv::rem_signed(static_cast<int64_t>(a), static_cast<int64_t>(b)));
}
uint64_t op_remu(uint64_t a, uint64_t b) {
  return b == 0 ? a : a % b;
}
uint64_t op_divw(uint64_t a, uint64_t b) {
  return static_cast<uint64_t>(static_cast<int64_t>(
      cpu::riscv::div_signed32(static_cast<int32_t>(a), static_cast<int32_t>(b))));
}
uint64_t op_divuw(uint64_t a, uint64_t b) {
  const auto x = static_cast<uint32_t>(a), y = static_cast<uint32_t>(b);
  return static_cast<uint64_t>(static_cast<int64_t>(static_cast<int32_t>(y == 0 ? ~0u : x / y)));
}
uint64_t op_remw(uint64_t a, uint64_t b) {
  return static_cast<uint64_t>(static_cast<int64_t>(
      cpu::riscv::rem_signed32(static_cast<int32_t>(a), static_cast<int32_t>(b))));
}
uint64_t op_remuw(uint64_t a, uint64_t b) {
  const auto x = static_cast<uint32_t>(a), y = static_cast<uint32_t>(b);
  return static_cast<uint64_t>(static_cast<int64_t>(static_cast<int32_t>(y == 0 ? x : x % y)));
}

uint64_t (*two_operand_helper(Op op))(uint64_t, uint64_t) {
  switch (op) {
    case Op::kMulhsu:
      return op_mulhsu;
    case Op::kDiv:
      return op_div;
    case Op::kDivu:
      return op_divu;
    case Op::kRem:
      return op_rem;
    case Op::kRemu:
      return op_remu;
    case Op::kDivw:
      return op_divw;
    case Op::kDivuw:
      return op_divuw;
    case Op::kRemw:
      return op_remw;
    case Op::kRemuw:
      return op_remuw;
    default:
      return nullptr;
  }
}

template <typename F>
Imm address_of(F* function) {
  return imm(reinterpret_cast<uint64_t>(function));
}

class Emitter {
 public:
  Emitter(x86::Assembler& a, const HartLayout& layout, const BlockSource& source)
      : a_(a),
        layout_(layout),
        source_(source),
        host_fma_(CpuInfo::host().hasFeature(CpuFeatures::X86::kFMA)) {}

  void emit() {
    top_ = a_.newLabel();
    epilogue_ = a_.newLabel();
    a_.push(x86::rbx);
    a_.push(x86::r12);
    a_.push(x86::r13);
    a_.push(x86::r14);
    a_.push(x86::r15);  // five pushes and the return address: rsp stays 16-aligned for calls
    a_.mov(kHart, x86::rdi);
    a_.lea(kRegs, x86::ptr(x86::rdi, layout_.x));
    a_.mov(kBudget, x86::rsi);
    a_.xor_(kEarlier.r32(), kEarlier.r32());
    a_.mov(kDirtyFlag, imm(reinterpret_cast<uint64_t>(layout_.dirty_log_enabled)));
    choose_cached();
    a_.bind(top_);
    load_cached();
    bool ended = false;
    for (unsigned i = 0; i < source_.count && !ended; ++i) ended = instruction(i);
    if (!ended) {  // ran off the end of the block
      const DecodedInsn& last = source_.insns[source_.count - 1];
      exit_to(pc_of(source_.count - 1) + last.length, source_.count);
    }
    for (auto& path : cold_) path();
    a_.bind(epilogue_);
    a_.pop(x86::r15);
    a_.pop(x86::r14);
    a_.pop(x86::r13);
    a_.pop(x86::r12);
    a_.pop(x86::rbx);
    a_.ret();
    // The exits' links, unlinked: data the block reads, in the code cache.
    a_.align(AlignMode::kData, 8);
    for (const auto& [label, target] : links_) {
      a_.bind(label);
      a_.embedUInt64(~uint64_t{0});  // epoch
      a_.embedUInt64(0);             // chain entry
      a_.embedUInt64(0);             // count
      a_.embedUInt64(target);
    }
  }
  Label chain_entry() const { return top_; }

 private:
  // Guest register r in the hart (always current: cached registers are
  // written through).
  x86::Mem mem(unsigned r) const { return x86::qword_ptr(kRegs, static_cast<int32_t>(8 * r)); }
  x86::Mem mem32(unsigned r) const { return x86::dword_ptr(kRegs, static_cast<int32_t>(8 * r)); }
  // Guest register r as a source operand: its host register if cached.
  Operand src(unsigned r) const {
    return cache_[r] >= 0 ? Operand(kCacheRegs[cache_[r]]) : Operand(mem(r));
  }
  Operand src32(unsigned r) const {
    return cache_[r] >= 0 ? Operand(kCacheRegs[cache_[r]].r32()) : Operand(mem32(r));
  }
  // x[rd] = value (x0 and its sink ignore it).
  void set_reg(unsigned rd, const x86::Gp& value) {
    if (rd == 0 || rd == kZeroSink) return;
    a_.mov(mem(rd), value);
    if (cache_[rd] >= 0) a_.mov(kCacheRegs[cache_[rd]], value);
  }
  // The block's most used guest registers live in host registers too, read
  // there and written through to the hart. Calls clobber them: reloaded after.
  void choose_cached() {
    unsigned uses[33] = {};
    for (unsigned i = 0; i < source_.count; ++i) {
      const DecodedInsn& d = source_.insns[i];
      for (unsigned r : {unsigned{d.rs1}, unsigned{d.rs2}, unsigned{d.rd}}) ++uses[r];
    }
    uses[0] = uses[kZeroSink] = 0;
    for (unsigned slot = 0; slot < std::size(kCacheRegs); ++slot) {
      unsigned best = 0;
      for (unsigned r = 1; r < 32; ++r) {
        if (cache_[r] < 0 && uses[r] > uses[best]) best = r;
      }
      if (uses[best] < 2) break;
      cache_[best] = static_cast<int8_t>(slot);
    }
  }
  void load_cached() {
    for (unsigned r = 1; r < 32; ++r) {
      if (cache_[r] >= 0) a_.mov(kCacheRegs[cache_[r]], mem(r));
    }
  }
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
    a_.jmp(epilogue_);
  }
  // Leaves the block after instruction attempted - 1 retired.
  void leave(unsigned attempted) {
    retire(attempted);
    return_attempted(attempted);
  }
  // Leaves for a fixed guest pc, after instruction attempted - 1 retired.
  // Targets in the block's page get a link (see ExitLink): taken, it jumps
  // into the next block with the hart, budget and count in their registers.
  void exit_to(uint64_t target, unsigned attempted) {
    retire(attempted);
    if ((target >> 12) == (source_.pc >> 12)) {
      Label link = a_.newLabel(), unlinked = a_.newLabel();
      links_.emplace_back(link, target);
      a_.lea(x86::rcx, x86::ptr(link));
      a_.mov(x86::rax, x86::qword_ptr(x86::rcx, ExitLinkLayout::kEpoch));
      a_.cmp(x86::rax, field(layout_.epoch));
      a_.jne(unlinked);
      a_.lea(x86::rax, x86::ptr(kEarlier, static_cast<int32_t>(attempted)));
      a_.mov(x86::rdx, x86::qword_ptr(x86::rcx, ExitLinkLayout::kCount));
      a_.add(x86::rdx, x86::rax);
      a_.cmp(x86::rdx, kBudget);
      a_.ja(unlinked);
      a_.cmp(x86::byte_ptr(kHart, layout_.attention), 0);
      a_.jne(unlinked);
      a_.mov(kEarlier, x86::rax);
      a_.jmp(x86::qword_ptr(x86::rcx, ExitLinkLayout::kChainEntry));
      a_.bind(unlinked);
      a_.mov(field(layout_.last_exit), x86::rcx);
      set_pc(target);
      return_attempted(attempted);
      return;
    }
    set_pc(target);  // another page: found as an indirect jump's target is
    exit_indirect(attempted);
  }
  // Leaves for the guest pc in rax (already in the hart's pc): straight
  // into its translation when the recent table has it for this mode, its
  // page is in the fetch TLB, and the budget and attention allow, as for a
  // linked exit; else back to the hart.
  void exit_indirect(unsigned attempted) {
    using cpu::riscv::RecentLayout;
    retire(attempted);
    Label back = a_.newLabel();
    // rsi = physical address, through the fetch TLB.
    a_.mov(x86::rcx, x86::rax);
    a_.shr(x86::rcx, 12);
    a_.mov(x86::edx, x86::ecx);
    a_.and_(x86::edx, TlbEntryLayout::kEntries - 1);
    a_.lea(x86::rdx, x86::ptr(x86::rdx, x86::rdx, 1));
    a_.cmp(x86::rcx, x86::qword_ptr(kHart, x86::rdx, 3, source_.fetch_tlb + TlbEntryLayout::kVpn));
    a_.jne(back);
    a_.mov(x86::rsi, x86::qword_ptr(kHart, x86::rdx, 3, source_.fetch_tlb + TlbEntryLayout::kPpn));
    a_.shl(x86::rsi, 12);
    a_.mov(x86::edi, x86::eax);
    a_.and_(x86::edi, 0xfff);
    a_.or_(x86::rsi, x86::rdi);
    // rcx = the recent table's entry for the pc.
    a_.mov(x86::rcx, x86::rax);
    a_.shr(x86::rcx, 1);
    a_.mov(x86::rdx, x86::rax);
    a_.shr(x86::rdx, 13);
    a_.xor_(x86::ecx, x86::edx);
    a_.and_(x86::ecx, RecentLayout::kSlots - 1);
    a_.imul(x86::ecx, x86::ecx, RecentLayout::kSize);
    a_.mov(x86::rdx, imm(reinterpret_cast<uint64_t>(source_.recent)));
    a_.add(x86::rcx, x86::rdx);
    a_.cmp(x86::rax, x86::qword_ptr(x86::rcx, RecentLayout::kPc));
    a_.jne(back);
    a_.cmp(x86::rsi, x86::qword_ptr(x86::rcx, RecentLayout::kPaddr));
    a_.jne(back);
    a_.cmp(x86::byte_ptr(x86::rcx, RecentLayout::kMode), source_.mode);
    a_.jne(back);
    a_.mov(x86::rdx, x86::qword_ptr(x86::rcx, RecentLayout::kChainEntry));
    a_.test(x86::rdx, x86::rdx);  // an entry that says "interpret"
    a_.jz(back);
    a_.lea(x86::rax, x86::ptr(kEarlier, static_cast<int32_t>(attempted)));
    a_.mov(x86::edi, x86::dword_ptr(x86::rcx, RecentLayout::kCount));
    a_.add(x86::rdi, x86::rax);
    a_.cmp(x86::rdi, kBudget);
    a_.ja(back);
    a_.cmp(x86::byte_ptr(kHart, layout_.attention), 0);
    a_.jne(back);
    a_.mov(kEarlier, x86::rax);
    a_.jmp(x86::rdx);
    a_.bind(back);
    return_attempted(attempted);
  }
  // A cold path, emitted after the block; it sees the count of retired
  // instructions as it was when it was created.
  void cold(std::function<void()> path) {
    const unsigned counted = counted_;
    cold_.push_back([this, counted, path = std::move(path)] {
      counted_ = counted;
      path();
    });
  }
  // Where instruction i goes when it traps: pc and instret exact, the trap
  // taken, the block left.
  Label trap_exit(unsigned i) {
    Label label = a_.newLabel();
    cold([this, i, label] {
      a_.bind(label);
      set_pc(pc_of(i));
      retire(i);
      a_.mov(x86::rdi, kHart);
      a_.call(address_of(layout_.take_trap));
      return_attempted(i + 1);  // attempted, but not retired
    });
    return label;
  }
  // Jumps to `miss` unless the TLB at `tlb` maps the `size`-byte access at
  // rax within one page; on a hit rdx indexes the entry (times 3).
  void tlb_lookup(int32_t tlb, unsigned size, Label miss) {
    a_.mov(x86::rcx, x86::rax);
    a_.shr(x86::rcx, 12);
    a_.mov(x86::edx, x86::ecx);
    a_.and_(x86::edx, TlbEntryLayout::kEntries - 1);
    a_.lea(x86::rdx, x86::ptr(x86::rdx, x86::rdx, 1));
    a_.cmp(x86::rcx, x86::qword_ptr(kHart, x86::rdx, 3, tlb + TlbEntryLayout::kVpn));
    a_.jne(miss);
    if (size > 1) {
      a_.mov(x86::ecx, x86::eax);
      a_.and_(x86::ecx, 0xfff);
      a_.cmp(x86::ecx, 0x1000 - size);
      a_.ja(miss);
    }
    a_.add(x86::rax, x86::qword_ptr(kHart, x86::rdx, 3, tlb + TlbEntryLayout::kAddend));
  }
  void effective_address(const DecodedInsn& d) {
    emit(x86::Inst::kIdMov, x86::rax, src(d.rs1));
    if (d.imm != 0) a_.add(x86::rax, imm(d.imm));
  }

  void load(unsigned i, unsigned size, bool sign) {
    const DecodedInsn& d = source_.insns[i];
    Label miss = a_.newLabel(), done = a_.newLabel(), trap = trap_exit(i);
    effective_address(d);
    tlb_lookup(source_.load_tlb, size, miss);
    switch (size) {
      case 1:
        sign ? a_.movsx(x86::rax, x86::byte_ptr(x86::rax))
             : a_.movzx(x86::eax, x86::byte_ptr(x86::rax));
        break;
      case 2:
        sign ? a_.movsx(x86::rax, x86::word_ptr(x86::rax))
             : a_.movzx(x86::eax, x86::word_ptr(x86::rax));
        break;
      case 4:
        sign ? a_.movsxd(x86::rax, x86::dword_ptr(x86::rax))
             : a_.mov(x86::eax, x86::dword_ptr(x86::rax));
        break;
      default:
        a_.mov(x86::rax, x86::qword_ptr(x86::rax));
        break;
    }
    set_reg(d.rd, x86::rax);
    a_.bind(done);
    cold([this, d, size, sign, miss, done, trap] {
      a_.bind(miss);
      a_.mov(x86::rdi, kHart);
      a_.mov(x86::rsi, x86::rax);
      a_.mov(x86::edx, size);
      a_.mov(x86::ecx, sign ? 1 : 0);
      a_.mov(x86::r8d, d.rd);
      a_.call(address_of(layout_.load));
      a_.test(x86::al, x86::al);
      a_.jz(trap);
      load_cached();  // x[rd] was written in the hart
      a_.jmp(done);
    });
  }

  void store(unsigned i, unsigned size) {
    const DecodedInsn& d = source_.insns[i];
    Label miss = a_.newLabel(), done = a_.newLabel(), trap = trap_exit(i);
    effective_address(d);
    // While migration logs dirty pages, the slow path marks them.
    a_.cmp(x86::byte_ptr(kDirtyFlag), 0);
    a_.jne(miss);
    tlb_lookup(source_.store_tlb, size, miss);
    emit(x86::Inst::kIdMov, x86::rcx, src(d.rs2));
    switch (size) {
      case 1:
        a_.mov(x86::byte_ptr(x86::rax), x86::cl);
        break;
      case 2:
        a_.mov(x86::word_ptr(x86::rax), x86::cx);
        break;
      case 4:
        a_.mov(x86::dword_ptr(x86::rax), x86::ecx);
        break;
      default:
        a_.mov(x86::qword_ptr(x86::rax), x86::rcx);
        break;
    }
    a_.bind(done);
    cold([this, d, size, miss, done, trap] {
      a_.bind(miss);
      a_.mov(x86::rdi, kHart);
      a_.mov(x86::rsi, x86::rax);
      a_.mov(x86::rdx, mem(d.rs2));
      a_.mov(x86::ecx, size);
      a_.call(address_of(layout_.store));
      a_.test(x86::al, x86::al);
      a_.jz(trap);
      load_cached();
      a_.jmp(done);
    });
  }

  void branch(unsigned i) {
    const DecodedInsn& d = source_.insns[i];
    Label taken = a_.newLabel();
    emit(x86::Inst::kIdMov, x86::rax, src(d.rs1));
    if (d.rs2 == 0) {
      a_.test(x86::rax, x86::rax);  // flags as cmp with 0, for signed and unsigned
    } else {
      emit(x86::Inst::kIdCmp, x86::rax, src(d.rs2));
    }
    switch (d.op) {
      case Op::kBeq:
        a_.je(taken);
        break;
      case Op::kBne:
        a_.jne(taken);
        break;
      case Op::kBlt:
        a_.jl(taken);
        break;
      case Op::kBge:
        a_.jge(taken);
        break;
      case Op::kBltu:
        a_.jb(taken);
        break;
      default:  // kBgeu
        a_.jae(taken);
        break;
    }
    const uint64_t target = pc_of(i) + static_cast<uint64_t>(static_cast<int64_t>(d.imm));
    cold([this, i, target, taken] {
      a_.bind(taken);
      if (target == source_.pc) {
        // A loop whose body is this block runs again without leaving it,
        // while the budget allows a whole pass and nobody asks for attention.
        Label out = a_.newLabel();
        retire(i + 1);
        a_.lea(x86::rax, x86::ptr(kEarlier, static_cast<int32_t>(i + 1)));
        a_.lea(x86::rcx, x86::ptr(x86::rax, static_cast<int32_t>(source_.count)));
        a_.cmp(x86::rcx, kBudget);
        a_.ja(out);
        a_.cmp(x86::byte_ptr(kHart, layout_.attention), 0);
        a_.jne(out);
        a_.mov(kEarlier, x86::rax);
        a_.jmp(top_);
        a_.bind(out);
      }
      exit_to(target, i + 1);
    });
  }

  // Runs instruction i through the interpreter's execute(). Returns true if
  // it ends the block.
  bool generic(unsigned i) {
    const DecodedInsn& d = source_.insns[i];
    uint64_t halves[2];
    std::memcpy(halves, &d, sizeof(halves));
    retire(i);
    set_pc(pc_of(i));
    Label trap = trap_exit(i);
    a_.mov(x86::rdi, kHart);
    a_.mov(x86::rsi, imm(halves[0]));
    a_.mov(x86::rdx, imm(halves[1]));
    a_.call(address_of(layout_.execute));
    a_.test(x86::al, x86::al);
    a_.jz(trap);
    if (cpu::riscv::op_block_end(d.op) == BlockEnd::kEndsBlock) {
      leave(i + 1);  // execute() has set pc
      return true;
    }
    load_cached();  // execute() may have written any register
    return false;
  }

  // x[rd] = x[rs1] OP x[rs2] (or OP imm), 64-bit.
  template <typename Emit>
  void alu(const DecodedInsn& d, Emit op) {
    emit(x86::Inst::kIdMov, x86::rax, src(d.rs1));
    op();
    set_reg(d.rd, x86::rax);
  }
  // The W forms: a 32-bit operation, its result sign-extended.
  template <typename Emit>
  void alu32(const DecodedInsn& d, Emit op) {
    emit(x86::Inst::kIdMov, x86::eax, src32(d.rs1));
    op();
    a_.movsxd(x86::rax, x86::eax);
    set_reg(d.rd, x86::rax);
  }
  void set_if(const DecodedInsn& d, x86::CondCode condition, const Operand& rhs) {
    a_.xor_(x86::ecx, x86::ecx);
    emit(x86::Inst::kIdMov, x86::rax, src(d.rs1));
    emit(x86::Inst::kIdCmp, x86::rax, rhs);
    a_.set(condition, x86::cl);
    set_reg(d.rd, x86::rcx);
  }

  // The host's div and idiv, inline; their faults (a zero divisor, and the
  // most negative dividend over -1) are RISC-V's corner cases, which the
  // C++ helpers compute out of line.
  void divide(const DecodedInsn& d) {
    const bool word = d.op >= Op::kDivw;
    const bool is_signed =
        d.op == Op::kDiv || d.op == Op::kRem || d.op == Op::kDivw || d.op == Op::kRemw;
    const bool remainder =
        d.op == Op::kRem || d.op == Op::kRemu || d.op == Op::kRemw || d.op == Op::kRemuw;
    Label corner = a_.newLabel(), done = a_.newLabel();
    const x86::Gp dividend = word ? x86::Gp(x86::eax) : x86::Gp(x86::rax);
    const x86::Gp divisor = word ? x86::Gp(x86::ecx) : x86::Gp(x86::rcx);
    emit(x86::Inst::kIdMov, dividend, word ? src32(d.rs1) : src(d.rs1));
    emit(x86::Inst::kIdMov, divisor, word ? src32(d.rs2) : src(d.rs2));
    a_.test(divisor, divisor);
    a_.jz(corner);
    if (is_signed) {
      a_.cmp(divisor, -1);
      a_.je(corner);
      word ? a_.cdq() : a_.cqo();
      a_.idiv(divisor);
    } else {
      a_.xor_(x86::edx, x86::edx);
      a_.div(divisor);
    }
    const x86::Gp result = remainder ? (word ? x86::Gp(x86::edx) : x86::Gp(x86::rdx)) : dividend;
    if (word) {
      a_.movsxd(x86::rax, result);
    } else if (remainder) {
      a_.mov(x86::rax, x86::rdx);
    }
    a_.bind(done);
    set_reg(d.rd, x86::rax);
    const auto helper = two_operand_helper(d.op);
    cold([this, d, helper, corner, done] {
      a_.bind(corner);
      a_.mov(x86::rdi, mem(d.rs1));
      a_.mov(x86::rsi, mem(d.rs2));
      a_.call(address_of(helper));
      load_cached();
      a_.jmp(done);
    });
  }

  // Emits instruction i; returns true if it ends the block.
  bool instruction(unsigned i) {
    const DecodedInsn& d = source_.insns[i];
    const Imm k = imm(d.imm);
    const unsigned shamt = static_cast<unsigned>(d.imm) & 63;
    // ALU instructions writing x0 do nothing at all.
    if (d.rd == kZeroSink && writes_only_rd(d.op)) return false;
    switch (d.op) {
      case Op::kLui:
        a_.mov(x86::rax, k);
        set_reg(d.rd, x86::rax);
        return false;
      case Op::kAuipc:
        a_.mov(x86::rax, imm(pc_of(i) + static_cast<uint64_t>(static_cast<int64_t>(d.imm))));
        set_reg(d.rd, x86::rax);
        return false;
      case Op::kAddi:
        alu(d, [&] { a_.add(x86::rax, k); });
        return false;
      case Op::kSlti:
        set_if(d, x86::CondCode::kL, k);
        return false;
      case Op::kSltiu:
        set_if(d, x86::CondCode::kB, k);
        return false;
      case Op::kXori:
        alu(d, [&] { a_.xor_(x86::rax, k); });
        return false;
      case Op::kOri:
        alu(d, [&] { a_.or_(x86::rax, k); });
        return false;
      case Op::kAndi:
        alu(d, [&] { a_.and_(x86::rax, k); });
        return false;
      case Op::kSlli:
        alu(d, [&] { a_.shl(x86::rax, shamt); });
        return false;
      case Op::kSrli:
        alu(d, [&] { a_.shr(x86::rax, shamt); });
        return false;
      case Op::kSrai:
        alu(d, [&] { a_.sar(x86::rax, shamt); });
        return false;
      case Op::kAdd:
        alu(d, [&] { emit(x86::Inst::kIdAdd, x86::rax, src(d.rs2)); });
        return false;
      case Op::kSub:
        alu(d, [&] { emit(x86::Inst::kIdSub, x86::rax, src(d.rs2)); });
        return false;
      case Op::kXor:
        alu(d, [&] { emit(x86::Inst::kIdXor, x86::rax, src(d.rs2)); });
        return false;
      case Op::kOr:
        alu(d, [&] { emit(x86::Inst::kIdOr, x86::rax, src(d.rs2)); });
        return false;
      case Op::kAnd:
        alu(d, [&] { emit(x86::Inst::kIdAnd, x86::rax, src(d.rs2)); });
        return false;
      case Op::kSll:  // x86 masks 64-bit shift counts to 6 bits, as RV64 does
        alu(d, [&] {
          emit(x86::Inst::kIdMov, x86::rcx, src(d.rs2));
          a_.shl(x86::rax, x86::cl);
        });
        return false;
      case Op::kSrl:
        alu(d, [&] {
          emit(x86::Inst::kIdMov, x86::rcx, src(d.rs2));
          a_.shr(x86::rax, x86::cl);
        });
        return false;
      case Op::kSra:
        alu(d, [&] {
          emit(x86::Inst::kIdMov, x86::rcx, src(d.rs2));
          a_.sar(x86::rax, x86::cl);
        });
        return false;
      case Op::kSlt:
        set_if(d, x86::CondCode::kL, src(d.rs2));
        return false;
      case Op::kSltu:
        set_if(d, x86::CondCode::kB, src(d.rs2));
        return false;
      case Op::kAddiw:
        alu32(d, [&] { a_.add(x86::eax, k); });
        return false;
      case Op::kSlliw:
        alu32(d, [&] { a_.shl(x86::eax, shamt & 31); });
        return false;
      case Op::kSrliw:
        alu32(d, [&] { a_.shr(x86::eax, shamt & 31); });
        return false;
      case Op::kSraiw:
        alu32(d, [&] { a_.sar(x86::eax, shamt & 31); });
        return false;
      case Op::kAddw:
        alu32(d, [&] { emit(x86::Inst::kIdAdd, x86::eax, src32(d.rs2)); });
        return false;
      case Op::kSubw:
        alu32(d, [&] { emit(x86::Inst::kIdSub, x86::eax, src32(d.rs2)); });
        return false;
      case Op::kSllw:  // 32-bit shift counts are masked to 5 bits, as RV64's W forms
        alu32(d, [&] {
          emit(x86::Inst::kIdMov, x86::ecx, src32(d.rs2));
          a_.shl(x86::eax, x86::cl);
        });
        return false;
      case Op::kSrlw:
        alu32(d, [&] {
          emit(x86::Inst::kIdMov, x86::ecx, src32(d.rs2));
          a_.shr(x86::eax, x86::cl);
        });
        return false;
      case Op::kSraw:
        alu32(d, [&] {
          emit(x86::Inst::kIdMov, x86::ecx, src32(d.rs2));
          a_.sar(x86::eax, x86::cl);
        });
        return false;
      case Op::kMul:
        alu(d, [&] { emit(x86::Inst::kIdImul, x86::rax, src(d.rs2)); });
        return false;
      case Op::kMulw:
        alu32(d, [&] { emit(x86::Inst::kIdImul, x86::eax, src32(d.rs2)); });
        return false;
      case Op::kMulh:  // rdx:rax = rax * operand
        emit(x86::Inst::kIdMov, x86::rax, src(d.rs1));
        emit(x86::Inst::kIdMov, x86::rcx, src(d.rs2));
        a_.imul(x86::rcx);
        set_reg(d.rd, x86::rdx);
        return false;
      case Op::kMulhu:
        emit(x86::Inst::kIdMov, x86::rax, src(d.rs1));
        emit(x86::Inst::kIdMov, x86::rcx, src(d.rs2));
        a_.mul(x86::rcx);
        set_reg(d.rd, x86::rdx);
        return false;
      case Op::kDiv:
      case Op::kDivu:
      case Op::kRem:
      case Op::kRemu:
      case Op::kDivw:
      case Op::kDivuw:
      case Op::kRemw:
      case Op::kRemuw:
        divide(d);
        return false;
      case Op::kMulhsu:
        a_.mov(x86::rdi, mem(d.rs1));
        a_.mov(x86::rsi, mem(d.rs2));
        a_.call(address_of(two_operand_helper(d.op)));
        load_cached();
        set_reg(d.rd, x86::rax);
        return false;
      case Op::kLb:
        load(i, 1, true);
        return false;
      case Op::kLh:
        load(i, 2, true);
        return false;
      case Op::kLw:
        load(i, 4, true);
        return false;
      case Op::kLd:
        load(i, 8, false);
        return false;
      case Op::kLbu:
        load(i, 1, false);
        return false;
      case Op::kLhu:
        load(i, 2, false);
        return false;
      case Op::kLwu:
        load(i, 4, false);
        return false;
      case Op::kSb:
        store(i, 1);
        return false;
      case Op::kSh:
        store(i, 2);
        return false;
      case Op::kSw:
        store(i, 4);
        return false;
      case Op::kSd:
        store(i, 8);
        return false;
      case Op::kBeq:
      case Op::kBne:
      case Op::kBlt:
      case Op::kBge:
      case Op::kBltu:
      case Op::kBgeu:
        branch(i);
        return false;
      case Op::kJal:
        if (d.rd != kZeroSink) {
          a_.mov(x86::rax, imm(pc_of(i) + d.length));
          set_reg(d.rd, x86::rax);
        }
        exit_to(pc_of(i) + static_cast<uint64_t>(static_cast<int64_t>(d.imm)), i + 1);
        return true;
      case Op::kJalr:  // the target first: rd may be rs1
        effective_address(d);
        a_.and_(x86::rax, -2);
        a_.mov(field(layout_.pc), x86::rax);
        if (d.rd != kZeroSink) {
          a_.mov(x86::rcx, imm(pc_of(i) + d.length));
          set_reg(d.rd, x86::rcx);
        }
        exit_indirect(i + 1);
        return true;
      case Op::kFld:
      case Op::kFsd:
      case Op::kFlw:
      case Op::kFsw:
      case Op::kFpOp:
      case Op::kFmadd:
      case Op::kFmsub:
      case Op::kFnmsub:
      case Op::kFnmadd:
        return floating_point(i) ? false : generic(i);
      default:
        return generic(i);
    }
  }

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
  void require_fs(Label slow) {
    a_.test(x86::dword_ptr(kHart, layout_.mstatus), 0x6000);
    a_.jz(slow);
  }
  void mark_fs_dirty() { a_.or_(x86::dword_ptr(kHart, layout_.mstatus), 0x6000); }
  // Jumps to `slow` unless rounding is to nearest and inexact has accrued.
  void require_nearest_inexact(unsigned rm, Label slow) {
    if (rm == 7) {
      a_.cmp(x86::byte_ptr(kHart, layout_.frm), 0);
      a_.jne(slow);
    }
    a_.test(x86::byte_ptr(kHart, layout_.fflags), 1);
    a_.jz(slow);
  }
  // Jumps to `slow` unless single f[r] is NaN-boxed.
  void require_boxed(unsigned r, Label slow) {
    a_.cmp(freg_high(r), -1);
    a_.jne(slow);
  }
  // Jumps to `slow` unless the double in rax (or single in eax) is finite
  // and normal, and not in the lowest binade either: whether a result that
  // rounded up to the smallest normal underflowed depends on when tininess
  // is detected, which the software path knows.
  void require_normal(bool single, Label slow) {
    a_.mov(x86::rcx, x86::rax);
    a_.shr(x86::rcx, single ? 23 : 52);
    a_.and_(x86::ecx, single ? 0xff : 0x7ff);
    a_.cmp(x86::ecx, 1);
    a_.jbe(slow);
    a_.cmp(x86::ecx, single ? 0xff : 0x7ff);
    a_.je(slow);
  }
  // The slow path of instruction i: the interpreter's execute(), then back.
  void slow_path(unsigned i, Label slow, Label done) {
    const DecodedInsn& d = source_.insns[i];
    uint64_t halves[2];
    std::memcpy(halves, &d, sizeof(halves));
    Label trap = trap_exit(i);
    cold([this, i, halves0 = halves[0], halves1 = halves[1], slow, done, trap] {
      a_.bind(slow);
      set_pc(pc_of(i));
      a_.mov(x86::rdi, kHart);
      a_.mov(x86::rsi, imm(halves0));
      a_.mov(x86::rdx, imm(halves1));
      a_.call(address_of(layout_.execute));
      a_.test(x86::al, x86::al);
      a_.jz(trap);
      load_cached();
      a_.jmp(done);
    });
  }

  // Emits instruction i if it has a fast path; false leaves it to generic().
  bool floating_point(unsigned i) {
    const DecodedInsn& d = source_.insns[i];
    switch (d.op) {
      case Op::kFld:
      case Op::kFlw:
        return fp_load(i, d.op == Op::kFlw);
      case Op::kFsd:
      case Op::kFsw:
        return fp_store(i, d.op == Op::kFsw);
      case Op::kFpOp:
        return fp_op(i);
      default:
        return fused(i);
    }
  }

  bool fp_load(unsigned i, bool single) {
    const DecodedInsn& d = source_.insns[i];
    Label slow = a_.newLabel(), done = a_.newLabel();
    require_fs(slow);
    effective_address(d);
    tlb_lookup(source_.load_tlb, single ? 4 : 8, slow);
    if (single) {
      a_.mov(x86::eax, x86::dword_ptr(x86::rax));
      a_.mov(freg32(d.rd), x86::eax);
      a_.mov(freg_high(d.rd), -1);
    } else {
      a_.mov(x86::rax, x86::qword_ptr(x86::rax));
      a_.mov(freg(d.rd), x86::rax);
    }
    mark_fs_dirty();
    a_.bind(done);
    slow_path(i, slow, done);
    return true;
  }

  bool fp_store(unsigned i, bool single) {
    const DecodedInsn& d = source_.insns[i];
    Label slow = a_.newLabel(), done = a_.newLabel();
    require_fs(slow);
    effective_address(d);
    a_.cmp(x86::byte_ptr(kDirtyFlag), 0);
    a_.jne(slow);
    tlb_lookup(source_.store_tlb, single ? 4 : 8, slow);
    if (single) {
      a_.mov(x86::ecx, freg32(d.rs2));
      a_.mov(x86::dword_ptr(x86::rax), x86::ecx);
    } else {
      a_.mov(x86::rcx, freg(d.rs2));
      a_.mov(x86::qword_ptr(x86::rax), x86::rcx);
    }
    a_.bind(done);
    slow_path(i, slow, done);
    return true;
  }

  // OP-FP (unprivileged spec ch. 11-12): funct7 names the operation and format.
  bool fp_op(unsigned i) {
    const DecodedInsn& d = source_.insns[i];
    const uint32_t raw = d.raw;
    const unsigned funct7 = raw >> 25, rm = (raw >> 12) & 7;
    const unsigned rd = (raw >> 7) & 31, rs1 = (raw >> 15) & 31, rs2 = (raw >> 20) & 31;
    const bool single = (funct7 & 3) == 0;
    if ((funct7 & 3) > 1) return false;
    const unsigned op = funct7 >> 2;
    Label slow = a_.newLabel(), done = a_.newLabel();
    auto operands = [&](bool two) {
      if (single) {
        require_boxed(rs1, slow);
        if (two) require_boxed(rs2, slow);
        a_.movd(x86::xmm0, freg32(rs1));
        if (two) a_.movd(x86::xmm1, freg32(rs2));
      } else {
        a_.movq(x86::xmm0, freg(rs1));
        if (two) a_.movq(x86::xmm1, freg(rs2));
      }
    };
    auto result = [&] {  // xmm0 → f[rd], if normal
      if (single) {
        a_.movd(x86::eax, x86::xmm0);
        require_normal(true, slow);
        a_.mov(freg32(rd), x86::eax);
        a_.mov(freg_high(rd), -1);
      } else {
        a_.movq(x86::rax, x86::xmm0);
        require_normal(false, slow);
        a_.mov(freg(rd), x86::rax);
      }
      mark_fs_dirty();
    };
    switch (op) {
      case 0:  // fadd
      case 1:  // fsub
      case 2:  // fmul
      case 3:  // fdiv
        if (rm != 0 && rm != 7) return false;
        require_fs(slow);
        require_nearest_inexact(rm, slow);
        operands(true);
        if (single) {
          const x86::Xmm& x = x86::xmm0;
          op == 0   ? a_.addss(x, x86::xmm1)
          : op == 1 ? a_.subss(x, x86::xmm1)
          : op == 2 ? a_.mulss(x, x86::xmm1)
                    : a_.divss(x, x86::xmm1);
        } else {
          const x86::Xmm& x = x86::xmm0;
          op == 0   ? a_.addsd(x, x86::xmm1)
          : op == 1 ? a_.subsd(x, x86::xmm1)
          : op == 2 ? a_.mulsd(x, x86::xmm1)
                    : a_.divsd(x, x86::xmm1);
        }
        result();
        break;
      case 11:  // fsqrt
        if ((rm != 0 && rm != 7) || rs2 != 0) return false;
        require_fs(slow);
        require_nearest_inexact(rm, slow);
        operands(false);
        single ? a_.sqrtss(x86::xmm0, x86::xmm0) : a_.sqrtsd(x86::xmm0, x86::xmm0);
        result();
        break;
      case 4: {  // fsgnj, fsgnjn, fsgnjx: sign bits only, no flags
        if (single || rm > 2) return false;
        const uint64_t sign = uint64_t{1} << 63;
        require_fs(slow);
        a_.mov(x86::rax, freg(rs1));
        a_.mov(x86::rcx, freg(rs2));
        a_.mov(x86::rdx, imm(sign));
        if (rm == 0) {  // sign of rs2
          a_.and_(x86::rcx, x86::rdx);
          a_.not_(x86::rdx);
          a_.and_(x86::rax, x86::rdx);
          a_.or_(x86::rax, x86::rcx);
        } else if (rm == 1) {  // opposite sign of rs2
          a_.not_(x86::rcx);
          a_.and_(x86::rcx, x86::rdx);
          a_.not_(x86::rdx);
          a_.and_(x86::rax, x86::rdx);
          a_.or_(x86::rax, x86::rcx);
        } else {  // xor of signs
          a_.and_(x86::rcx, x86::rdx);
          a_.xor_(x86::rax, x86::rcx);
        }
        a_.mov(freg(rd), x86::rax);
        mark_fs_dirty();
        break;
      }
      case 20: {  // feq, flt, fle (double): ordered operands raise nothing
        if (single || rm > 2) return false;
        require_fs(slow);
        a_.movq(x86::xmm0, freg(rs1));
        a_.movq(x86::xmm1, freg(rs2));
        a_.xor_(x86::ecx, x86::ecx);
        a_.ucomisd(x86::xmm0, x86::xmm1);
        a_.jp(slow);  // a NaN: flags to decide, in the slow path
        a_.set(rm == 2   ? x86::CondCode::kE
               : rm == 1 ? x86::CondCode::kB
                         : x86::CondCode::kBE,
               x86::cl);
        set_reg(rd, x86::rcx);
        break;
      }
      case 26:  // fcvt.d.w (exact): the integer to double
        if (single || rs2 != 0) return false;
        require_fs(slow);
        emit(x86::Inst::kIdCvtsi2sd, x86::xmm0, src32(rs1));
        a_.movq(freg(rd), x86::xmm0);
        mark_fs_dirty();
        break;
      case 28:  // fmv.x.d (rm 0): raw bits to an integer register
        if (single || rm != 0 || rs2 != 0) return false;
        require_fs(slow);
        a_.mov(x86::rax, freg(rs1));
        set_reg(rd, x86::rax);
        break;
      case 30:  // fmv.d.x
        if (single || rm != 0 || rs2 != 0) return false;
        require_fs(slow);
        emit(x86::Inst::kIdMov, x86::rax, src(rs1));
        a_.mov(freg(rd), x86::rax);
        mark_fs_dirty();
        break;
      default:
        return false;
    }
    a_.bind(done);
    slow_path(i, slow, done);
    return true;
  }

  // FMADD, FMSUB, FNMSUB, FNMADD (double, single) with the host's FMA3.
  bool fused(unsigned i) {
    if (!host_fma_) return false;
    const DecodedInsn& d = source_.insns[i];
    const uint32_t raw = d.raw;
    const unsigned fmt = (raw >> 25) & 3, rm = (raw >> 12) & 7;
    const unsigned rd = (raw >> 7) & 31, rs1 = (raw >> 15) & 31, rs2 = (raw >> 20) & 31,
                   rs3 = raw >> 27;
    if (fmt > 1 || (rm != 0 && rm != 7)) return false;
    const bool single = fmt == 0;
    Label slow = a_.newLabel(), done = a_.newLabel();
    require_fs(slow);
    require_nearest_inexact(rm, slow);
    if (single) {
      for (unsigned r : {rs1, rs2, rs3}) require_boxed(r, slow);
      a_.movd(x86::xmm0, freg32(rs1));
      a_.movd(x86::xmm1, freg32(rs2));
      a_.movd(x86::xmm2, freg32(rs3));
    } else {
      a_.movq(x86::xmm0, freg(rs1));
      a_.movq(x86::xmm1, freg(rs2));
      a_.movq(x86::xmm2, freg(rs3));
    }
    // xmm0 = ±(xmm0 * xmm1) ± xmm2
    switch (d.op) {
      case Op::kFmadd:
        single ? a_.vfmadd213ss(x86::xmm0, x86::xmm1, x86::xmm2)
               : a_.vfmadd213sd(x86::xmm0, x86::xmm1, x86::xmm2);
        break;
      case Op::kFmsub:
        single ? a_.vfmsub213ss(x86::xmm0, x86::xmm1, x86::xmm2)
               : a_.vfmsub213sd(x86::xmm0, x86::xmm1, x86::xmm2);
        break;
      case Op::kFnmsub:  // -(a*b) + c
        single ? a_.vfnmadd213ss(x86::xmm0, x86::xmm1, x86::xmm2)
               : a_.vfnmadd213sd(x86::xmm0, x86::xmm1, x86::xmm2);
        break;
      default:  // kFnmadd: -(a*b) - c
        single ? a_.vfnmsub213ss(x86::xmm0, x86::xmm1, x86::xmm2)
               : a_.vfnmsub213sd(x86::xmm0, x86::xmm1, x86::xmm2);
        break;
    }
    if (single) {
      a_.movd(x86::eax, x86::xmm0);
      require_normal(true, slow);
      a_.mov(freg32(rd), x86::eax);
      a_.mov(freg_high(rd), -1);
    } else {
      a_.movq(x86::rax, x86::xmm0);
      require_normal(false, slow);
      a_.mov(freg(rd), x86::rax);
    }
    mark_fs_dirty();
    a_.bind(done);
    slow_path(i, slow, done);
    return true;
  }

  // Whether an instruction's only effect is its result in rd.
  static bool writes_only_rd(Op op) {
    return op == Op::kLui || op == Op::kAuipc || (op >= Op::kAddi && op <= Op::kSraw) ||
           (op >= Op::kMul && op <= Op::kRemuw);
  }

  x86::Assembler& a_;
  const HartLayout& layout_;
  const BlockSource& source_;
  const bool host_fma_;
  int8_t cache_[33] = {-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
                       -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1};
  unsigned counted_ = 0;  // instructions of this pass already added to instret
  Label top_, epilogue_;
  std::vector<std::function<void()>> cold_;
  std::vector<std::pair<Label, uint64_t>> links_;  // exit links and their targets
};

}  // namespace

bool emit_block(x86::Assembler& assembler, const HartLayout& layout, const BlockSource& source,
                Label& chain_entry) {
  if (source.count == 0) return false;
  Emitter emitter(assembler, layout, source);
  emitter.emit();
  chain_entry = emitter.chain_entry();
  return true;
}

}  // namespace vessel::jit
