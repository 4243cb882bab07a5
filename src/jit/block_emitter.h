// Emits the x86-64 code of one guest block (see block_emitter.cc for the
// register conventions and the shape of the code).
#pragma once

#include <asmjit/x86.h>

#include "cpu/riscv/block_compiler.h"
#include "jit/stubs.h"

namespace vessel::jit {

// Emits `source` into `assembler`: a block entered by the `stubs`' enter
// stub at its first byte, and by links and indirect jumps there too. Returns
// false if some instruction cannot be emitted (the block is then
// interpreted).
bool emit_block(asmjit::x86::Assembler& assembler, const cpu::riscv::HartLayout& layout,
                const cpu::riscv::BlockSource& source, const Stubs& stubs);

}  // namespace vessel::jit
