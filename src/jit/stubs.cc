#include "jit/stubs.h"

#include "cpu/riscv/translation_cache.h"
#include "jit/emitter.h"

namespace vessel::jit {

using namespace asmjit;
using cpu::riscv::ExitLinkLayout;
using cpu::riscv::RecentLayout;
using cpu::riscv::TlbEntryLayout;
using detail::kBudget;
using detail::kDirtyFlag;
using detail::kEarlier;
using detail::kHart;
using detail::kRegs;

StubLabels emit_stubs(x86::Assembler& a, const cpu::riscv::HartLayout& layout) {
  StubLabels l{a.newLabel(), a.newLabel(), a.newLabel(), a.newLabel(),
               a.newLabel(), a.newLabel(), a.newLabel()};
  auto field = [&](int32_t offset) { return x86::qword_ptr(kHart, offset); };

  // The callee-saved registers blocks use (see block_emitter.cc).
  const x86::Gp saved[] = {x86::rbp, x86::rbx, x86::r12, x86::r13, x86::r14, x86::r15};
  static_assert(std::size(saved) % 2 == 0);

  a.bind(l.enter);
  for (const x86::Gp& r : saved) a.push(r);
  a.sub(x86::rsp, 8);  // with the return address and an even number of pushes: 16-aligned
  a.mov(kHart, x86::rdi);
  a.lea(kRegs, x86::ptr(x86::rdi, layout.x));
  a.mov(kBudget, x86::rsi);
  a.xor_(kEarlier.r32(), kEarlier.r32());
  a.mov(kDirtyFlag, imm(reinterpret_cast<uint64_t>(layout.dirty_log_enabled)));
  a.jmp(x86::rdx);

  a.bind(l.leave);
  a.add(x86::rsp, 8);
  for (size_t r = std::size(saved); r-- > 0;) a.pop(saved[r]);
  a.ret();

  // An exit not linked (or linked before the last FENCE.I): the hart links it.
  a.bind(l.link);
  a.add(x86::rax, kEarlier);
  a.mov(field(layout.last_exit), x86::rcx);
  a.mov(x86::rdx, x86::qword_ptr(x86::rcx, ExitLinkLayout::kTargetPc));
  a.mov(field(layout.pc), x86::rdx);
  a.jmp(l.leave);

  // The target's physical address through the fetch TLB, its translation
  // from the recent table. The cached guest registers (kCacheRegs) are dead
  // here: every block loads its own.
  Label back = a.newLabel();
  a.bind(l.indirect);
  a.add(x86::rax, kEarlier);
  a.mov(x86::r8, x86::rsi);
  a.shr(x86::r8, 12);
  a.mov(x86::r9d, x86::r8d);
  a.and_(x86::r9d, TlbEntryLayout::kEntries - 1);
  a.lea(x86::r9, x86::ptr(x86::r9, x86::r9, 1));
  a.lea(x86::r9, x86::ptr(kHart, x86::r9, 3));
  a.add(x86::r9, x86::rdx);
  a.cmp(x86::r8, x86::qword_ptr(x86::r9, TlbEntryLayout::kVpn));
  a.jne(back);
  a.mov(x86::r10, x86::qword_ptr(x86::r9, TlbEntryLayout::kPpn));
  a.shl(x86::r10, 12);
  a.mov(x86::edi, x86::esi);
  a.and_(x86::edi, 0xfff);
  a.or_(x86::r10, x86::rdi);
  a.mov(x86::r8, x86::rsi);
  a.shr(x86::r8, 1);
  a.mov(x86::r9, x86::rsi);
  a.shr(x86::r9, 13);
  a.xor_(x86::r8d, x86::r9d);
  a.and_(x86::r8d, RecentLayout::kSlots - 1);
  a.imul(x86::r8d, x86::r8d, RecentLayout::kSize);
  a.add(x86::r8, field(layout.recent));
  a.cmp(x86::rsi, x86::qword_ptr(x86::r8, RecentLayout::kPc));
  a.jne(back);
  a.cmp(x86::r10, x86::qword_ptr(x86::r8, RecentLayout::kPaddr));
  a.jne(back);
  a.cmp(x86::byte_ptr(x86::r8, RecentLayout::kMode), x86::cl);
  a.jne(back);
  a.mov(x86::rdx, x86::qword_ptr(x86::r8, RecentLayout::kChecked));
  a.cmp(x86::rdx, field(layout.epoch));  // not checked since code may have changed
  a.jne(back);
  a.mov(x86::rdx, x86::qword_ptr(x86::r8, RecentLayout::kCode));
  a.mov(kEarlier, x86::rax);
  a.jmp(x86::rdx);  // which checks the budget and attention
  a.bind(back);     // the hart finds it
  a.mov(field(layout.pc), x86::rsi);
  a.jmp(l.leave);

  // pc and instret exact at the trapping instruction, the trap taken.
  a.bind(l.trap);
  a.add(field(layout.instret), x86::rcx);
  a.mov(field(layout.pc), x86::rsi);
  a.add(x86::rax, kEarlier);
  a.push(x86::rax);
  a.push(x86::rax);  // twice: rsp stays 16-aligned
  a.mov(x86::rdi, kHart);
  a.call(detail::address_of(layout.take_trap));
  a.pop(x86::rax);
  a.pop(x86::rax);
  a.jmp(l.leave);

  // The slow memory paths, keeping the block's cached guest registers.
  auto keeping_cached_registers = [&](auto call) {
    for (const x86::Gp& r : detail::kCacheRegs) a.push(r);
    // With the block's call, an even number of pushes keeps rsp 16-aligned.
    constexpr bool pad = std::size(detail::kCacheRegs) % 2 == 0;
    if (pad) a.sub(x86::rsp, 8);
    call();
    if (pad) a.add(x86::rsp, 8);
    for (size_t r = std::size(detail::kCacheRegs); r-- > 0;) a.pop(detail::kCacheRegs[r]);
    a.ret();
  };
  a.bind(l.load);
  keeping_cached_registers([&] {
    a.mov(x86::rdi, kHart);
    a.mov(x86::rsi, x86::rax);
    a.call(detail::address_of(layout.load));
  });
  a.bind(l.store);
  keeping_cached_registers([&] {
    a.mov(x86::rdi, kHart);
    a.mov(x86::rsi, x86::rax);
    a.call(detail::address_of(layout.store));
  });
  return l;
}

}  // namespace vessel::jit
