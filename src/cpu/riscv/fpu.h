// RISC-V F and D arithmetic (unprivileged spec ch. 11 and 12): everything of
// OP-FP and the fused multiply-adds. Loads/stores and the mstatus.FS state are
// the hart's business; this file only computes, exactly to the spec: all
// rounding modes (including RMM), accrued exception flags, NaN boxing of
// singles in 64-bit registers, canonical NaNs.
#pragma once

#include <cstdint>

namespace vessel::cpu::riscv::fpu {

struct Context {
  uint64_t* x;     // integer registers; x[0] is never written
  uint64_t* f;     // FP registers; singles are NaN-boxed
  uint8_t frm;     // fcsr.frm, used when an instruction's rm field is 7 (DYN)
  uint8_t fflags;  // accrued flags (NV DZ OF UF NX = bits 4..0); new flags are OR-ed in
};

enum class Outcome {
  kOk,
  kIllegal,  // reserved encoding or invalid rounding mode: illegal-instruction trap
};

// Executes one instruction whose major opcode is OP-FP (0x53), MADD (0x43),
// MSUB (0x47), NMSUB (0x4b) or NMADD (0x4f).
Outcome execute(uint32_t insn, Context& ctx);

}  // namespace vessel::cpu::riscv::fpu
