// RVC (unprivileged spec ch. 16): every 16-bit instruction is expanded to
// the 32-bit instruction it stands for, so the interpreter implements each
// operation once. The expansion is a 64 Ki-entry table built at start-up.
#pragma once

#include <cstdint>

namespace vessel::cpu::riscv {

// The 32-bit equivalent of a compressed instruction, or 0 if it is illegal
// or reserved.
uint32_t expand_compressed(uint16_t insn);

}  // namespace vessel::cpu::riscv
