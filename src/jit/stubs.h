// The code every block of a code cache shares, placed at the cache's start:
// entering a block (the host registers' set-up), leaving, following an
// exit's link, finding an indirect jump's target, taking a trap. Blocks jump
// to these instead of carrying their own copies (see block_emitter.cc for
// the registers they assume).
#pragma once

#include <asmjit/x86.h>

#include <cstdint>

#include "cpu/riscv/block_compiler.h"

namespace vessel::jit {

// The stubs' addresses. Their inputs:
//   enter     an EnterBlock: (hart rdi, budget rsi, block rdx)
//   leave     rax = instructions attempted, in all (returns it)
//   link      an unlinked exit: rcx = its ExitLink, eax = instructions attempted
//             in this block
//   indirect  rsi = guest pc, edx = the fetch TLB's offset in the hart,
//             ecx = the block's mode, eax = instructions attempted in this block
//   trap      rsi = the trapping instruction's pc, ecx = instructions it
//             retires first, eax = instructions attempted in this block
//   load      called: rax = guest address, edx = HartLayout::load's access;
//             returns al = 0 if it trapped; the cached guest registers kept
//   store     called: rax = guest address, rdx = value, ecx = size; as load
struct Stubs {
  uint64_t enter = 0, leave = 0, link = 0, indirect = 0, trap = 0, load = 0, store = 0;
};

struct StubLabels {
  asmjit::Label enter, leave, link, indirect, trap, load, store;
};

// Emits the stubs for a hart with `layout`.
StubLabels emit_stubs(asmjit::x86::Assembler& a, const cpu::riscv::HartLayout& layout);

}  // namespace vessel::jit
