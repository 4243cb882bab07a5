// One guest block as x86-64 code.
//
// The generated function is a CompiledBlock: (Hart* rdi, budget rsi) →
// instructions attempted (rax). Its state is in callee-saved registers, so
// the helpers it calls keep them:
//   r12  the Hart              rbx  &x[0]: guest register n at [rbx + 8n]
//   r13  the budget            r14  instructions attempted before this block
//   r15  the dirty log's "enabled" flag         (or this pass of a loop)
// Guest registers live in the hart, at fixed offsets from rbx; the block's
// seven most used ones (a loop body's count most) are loaded into r8..r11,
// rsi, rdi and rbp at its start and written back (sync()) wherever the hart
// must see them: before helper calls, at exits, on the way to a trap. After
// a call that may clobber them they are loaded again.
//
// The code mirrors Hart::execute_block(): straight-line code with the
// likely paths inline (ALU, TLB hits) and the rare ones after the block
// (TLB misses, traps, taken branches). pc and instret are written only where
// the block is left or a helper needs them: pc is a constant at every
// instruction, and the instructions retired are counted at translation time.
#include "jit/block_emitter.h"

#include <cstring>

#include "cpu/riscv/translation_cache.h"
#include "jit/emitter.h"

namespace vessel::jit {
namespace detail {

using cpu::riscv::BlockEnd;
using cpu::riscv::ExitLinkLayout;
using cpu::riscv::TlbEntryLayout;

void Emitter::emit() {
  top_ = a_.newLabel();
  body_ = a_.newLabel();
  choose_cached();
  // The block's start, where every entry, link and loop comes in: a whole
  // pass must fit in the budget, and nobody may be waiting for the hart.
  Label bail = a_.newLabel();
  a_.bind(top_);
  check_pass(bail);
  load_cached();
  a_.bind(body_);
  cold([this, bail] {
    a_.bind(bail);
    set_pc(source_.pc);
    return_attempted(0);
  });
  if (source_.straddles) check_second_half();
  bool ended = false;
  for (unsigned i = 0; i < source_.count && !ended; ++i) ended = instruction(i);
  if (!ended) {  // ran off the end of the block
    const DecodedInsn& last = source_.insns[source_.count - 1];
    exit_to(pc_of(source_.count - 1) + last.length, source_.count);
  }
  // By index, each moved out before it runs: a cold path may add others
  // (an exit to another page does), which grows the vector under it.
  for (size_t k = 0; k < cold_.size(); ++k) {
    const std::function<void()> path = std::move(cold_[k]);
    path();
  }
  // The exits' links, unlinked: data the block reads, in the code cache.
  a_.align(AlignMode::kData, 8);
  for (const auto& [label, target] : links_) {
    a_.bind(label);
    a_.embedUInt64(~uint64_t{0});  // epoch
    a_.embedUInt64(0);             // block
    a_.embedUInt64(target);
    a_.embedUInt64(0);  // target_ppn
  }
}

void Emitter::check_pass(Label out) {
  a_.lea(x86::rax, x86::ptr(kEarlier, static_cast<int32_t>(source_.count)));
  a_.cmp(x86::rax, kBudget);
  a_.ja(out);
  a_.cmp(x86::byte_ptr(kHart, layout_.attention), 0);
  a_.jne(out);
}

void Emitter::check_second_half() {
  Label changed = a_.newLabel();
  a_.mov(x86::rax, imm(source_.pc + 2));
  tlb_lookup(source_.fetch_tlb, 2, changed);
  a_.mov(x86::rcx, imm(source_.second_half_ppn));
  a_.cmp(x86::rcx, x86::qword_ptr(kHart, x86::rdx, 3, source_.fetch_tlb + TlbEntryLayout::kPpn));
  a_.jne(changed);
  a_.cmp(x86::word_ptr(x86::rax), imm(static_cast<int16_t>(source_.second_half)));
  a_.jne(changed);
  cold([this, changed] {
    a_.bind(changed);  // remapped or rewritten: the interpreter fetches it anew
    set_pc(source_.pc);
    a_.mov(x86::rdi, kHart);
    a_.call(address_of(layout_.step));
    return_attempted(1);
  });
}

void Emitter::choose_cached() {
  // A branch back to the block's start makes everything up to it a loop
  // body, which runs many times for once the rest of the block runs.
  unsigned loop_end = 0;
  for (unsigned i = 0; i < source_.count; ++i) {
    const DecodedInsn& d = source_.insns[i];
    const bool branch = d.op >= Op::kBeq && d.op <= Op::kBgeu;
    if (branch && pc_of(i) + static_cast<uint64_t>(static_cast<int64_t>(d.imm)) == source_.pc) {
      loop_end = i + 1;
    }
  }
  unsigned uses[33] = {};
  for (unsigned i = 0; i < source_.count; ++i) {
    const DecodedInsn& d = source_.insns[i];
    const unsigned weight = i < loop_end ? 16 : 1;
    for (unsigned r : {unsigned{d.rs1}, unsigned{d.rs2}, unsigned{d.rd}}) uses[r] += weight;
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
  // Which of them to write back: every one an instruction may write (an FP
  // destination counted too; storing an unchanged value is harmless).
  for (unsigned i = 0; i < source_.count; ++i) {
    if (source_.insns[i].rd < 32) written_ |= uint64_t{1} << source_.insns[i].rd;
  }
}

void Emitter::load_cached() {
  for (unsigned r = 1; r < 32; ++r) {
    if (cached(r)) a_.mov(host(r), mem(r));
  }
}

void Emitter::sync() {
  for (unsigned r = 1; r < 32; ++r) {
    if (cached(r) && (written_ >> r & 1)) a_.mov(mem(r), host(r));
  }
}

void Emitter::exit_to(uint64_t target, unsigned attempted) {
  retire(attempted);
  sync();
  Label link = a_.newLabel(), unlinked = a_.newLabel();
  links_.emplace_back(link, target);
  if ((target >> 12) != (source_.pc >> 12)) {
    // Another page: linked while the fetch TLB maps it as it did (its slot
    // is known now); else found as an indirect jump's target is.
    Label elsewhere = a_.newLabel();
    const uint64_t vpn = target >> 12;
    const int32_t entry =
        source_.fetch_tlb +
        static_cast<int32_t>((vpn % TlbEntryLayout::kEntries) * TlbEntryLayout::kSize);
    a_.mov(x86::rax, imm(vpn));
    a_.cmp(x86::rax, field(entry + TlbEntryLayout::kVpn));
    a_.jne(elsewhere);
    a_.mov(x86::rax, field(entry + TlbEntryLayout::kPpn));
    a_.cmp(x86::rax, x86::qword_ptr(link, ExitLinkLayout::kTargetPpn));
    a_.jne(unlinked);
    cold([this, elsewhere, target, attempted] {
      a_.bind(elsewhere);
      a_.mov(x86::rsi, imm(target));
      jump_indirect(attempted);
    });
  }
  a_.mov(x86::rdx, x86::qword_ptr(link, ExitLinkLayout::kEpoch));
  a_.cmp(x86::rdx, field(layout_.epoch));
  a_.jne(unlinked);
  a_.add(kEarlier, attempted);
  a_.jmp(x86::qword_ptr(link, ExitLinkLayout::kBlock));
  a_.bind(unlinked);
  a_.lea(x86::rcx, x86::ptr(link));
  a_.mov(x86::eax, attempted);
  a_.jmp(imm(stubs_.link));
}

void Emitter::exit_indirect(unsigned attempted) {
  retire(attempted);
  sync();
  a_.mov(x86::rsi, x86::rax);
  jump_indirect(attempted);
}

void Emitter::jump_indirect(unsigned attempted) {
  a_.mov(x86::edx, source_.fetch_tlb);
  a_.mov(x86::ecx, source_.mode);
  a_.mov(x86::eax, attempted);
  a_.jmp(imm(stubs_.indirect));
}

void Emitter::cold(std::function<void()> path) {
  const unsigned counted = counted_;
  cold_.push_back([this, counted, path = std::move(path)] {
    counted_ = counted;
    path();
  });
}

Label Emitter::trap_exit(unsigned i) {
  Label label = a_.newLabel();
  cold([this, i, label] {
    a_.bind(label);
    a_.mov(x86::ecx, i - counted_);  // retired before it
    a_.mov(x86::rsi, imm(pc_of(i)));
    a_.mov(x86::eax, i + 1);  // attempted, but not retired
    a_.jmp(imm(stubs_.trap));
  });
  return label;
}

void Emitter::tlb_lookup(int32_t tlb, unsigned size, Label miss) {
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

void Emitter::effective_address(const DecodedInsn& d) {
  emit(x86::Inst::kIdMov, x86::rax, src(d.rs1));
  if (d.imm != 0) a_.add(x86::rax, imm(d.imm));
}

void Emitter::load(unsigned i, unsigned size, bool sign) {
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
    sync();  // a trap, or the helper's own writes, need the hart current
    a_.mov(x86::edx, size | (sign ? 1u : 0u) << 8 | unsigned{d.rd} << 16);
    a_.call(imm(stubs_.load));  // which keeps the cached registers
    a_.test(x86::al, x86::al);
    a_.jz(trap);
    if (d.rd < 32 && cached(d.rd)) a_.mov(host(d.rd), mem(d.rd));
    a_.jmp(done);
  });
}

void Emitter::store(unsigned i, unsigned size) {
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
    sync();
    a_.mov(x86::rdx, mem(d.rs2));
    a_.mov(x86::ecx, size);
    a_.call(imm(stubs_.store));
    a_.test(x86::al, x86::al);
    a_.jz(trap);
    a_.jmp(done);
  });
}

void Emitter::branch(unsigned i) {
  const DecodedInsn& d = source_.insns[i];
  Label taken = a_.newLabel();
  x86::Gp lhs = x86::rax;
  if (cached(d.rs1)) {
    lhs = host(d.rs1);
  } else {
    a_.mov(x86::rax, mem(d.rs1));
  }
  if (d.rs2 == 0) {
    a_.test(lhs, lhs);  // flags as cmp with 0, for signed and unsigned
  } else {
    emit(x86::Inst::kIdCmp, lhs, src(d.rs2));
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
    if (target == source_.pc) {  // a loop whose body is this block: again, from the start
      retire(i + 1);
      a_.add(kEarlier, i + 1);
      // The start's checks, keeping the guest registers in host registers.
      Label again = a_.newLabel();
      check_pass(again);
      a_.jmp(body_);
      a_.bind(again);
      sync();
      a_.jmp(top_);  // which leaves
      return;
    }
    exit_to(target, i + 1);
  });
}

bool Emitter::generic(unsigned i) {
  const DecodedInsn& d = source_.insns[i];
  uint64_t halves[2];
  std::memcpy(halves, &d, sizeof(halves));
  retire(i);
  set_pc(pc_of(i));
  sync();
  Label trap = trap_exit(i);
  a_.mov(x86::rdi, kHart);
  a_.mov(x86::rsi, imm(halves[0]));
  a_.mov(x86::rdx, imm(halves[1]));
  a_.call(address_of(layout_.execute));
  a_.test(x86::al, x86::al);
  a_.jz(trap);
  if (cpu::riscv::block_end(d) == BlockEnd::kEndsBlock) {
    leave(i + 1);  // execute() has set pc
    return true;
  }
  load_cached();  // execute() may have written any register
  return false;
}

}  // namespace detail

bool emit_block(asmjit::x86::Assembler& assembler, const cpu::riscv::HartLayout& layout,
                const cpu::riscv::BlockSource& source, const Stubs& stubs) {
  if (source.count == 0) return false;
  detail::Emitter(assembler, layout, source, stubs).emit();
  return true;
}

}  // namespace vessel::jit
