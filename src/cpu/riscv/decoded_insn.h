// A pre-decoded instruction: everything the interpreter needs, extracted
// once, in 16 bytes. Blocks of these are cached so that the hot loop never
// fetches or decodes the same instruction twice.
#pragma once

#include <cstdint>

#include "cpu/riscv/compressed.h"
#include "cpu/riscv/isa_table.h"

namespace vessel::cpu::riscv {

constexpr unsigned kZeroSink = 32;

struct DecodedInsn {
  Op op;
  uint8_t rd;
  uint8_t rs1;
  uint8_t rs2;
  int32_t imm;  // sign-extended immediate, or the CSR number
  // The instruction as fetched (16 or 32 bits), for mtval and for the FP and
  // AMO encodings, which have no compressed forms.
  uint32_t raw;
  uint8_t length;
  uint8_t reserved;
  uint16_t offset;  // bytes from the start of its block
};
static_assert(sizeof(DecodedInsn) == 16);

inline DecodedInsn decode_insn(uint32_t raw, unsigned length) {
  uint32_t insn = length == 2 ? expand_compressed(static_cast<uint16_t>(raw)) : raw;
  DecodedInsn d{};
  d.raw = raw;
  d.length = static_cast<uint8_t>(length);
  d.op = insn == 0 ? Op::kIllegal : decode(insn);
  // Integer results for x0 go to a scratch register past x31 (kZeroSink), so
  // x0 stays zero without a store per instruction. FP loads name f registers.
  const bool fp_destination = d.op == Op::kFlw || d.op == Op::kFld;
  d.rd = static_cast<uint8_t>(rd(insn) == 0 && !fp_destination ? kZeroSink : rd(insn));
  d.rs1 = static_cast<uint8_t>(rs1(insn));
  d.rs2 = static_cast<uint8_t>(rs2(insn));
  switch (op_format(d.op)) {
    case Format::kR:
      d.imm = 0;
      break;
    case Format::kI:
      d.imm = static_cast<int32_t>(imm_i(insn));
      break;
    case Format::kS:
      d.imm = static_cast<int32_t>(imm_s(insn));
      break;
    case Format::kB:
      d.imm = static_cast<int32_t>(imm_b(insn));
      break;
    case Format::kU:
      d.imm = static_cast<int32_t>(imm_u(insn));
      break;
    case Format::kJ:
      d.imm = static_cast<int32_t>(imm_j(insn));
      break;
    case Format::kCsr:
      d.imm = static_cast<int32_t>(insn >> 20);
      break;
  }
  return d;
}

// Whether a block ends after `d`: as op_block_end() says, except for the
// CSR accesses that cannot change how the following code runs: reads
// (csrrs/csrrc and their immediate forms with nothing to set or clear) and
// fflags/frm/fcsr, which FP code reads at every instruction. Compilers put
// frflags/fsflags around every quiet FP comparison.
inline BlockEnd block_end(const DecodedInsn& d) {
  if (d.op >= Op::kCsrrw && d.op <= Op::kCsrrci) {
    const bool read_only = d.op != Op::kCsrrw && d.op != Op::kCsrrwi && d.rs1 == 0;
    const bool fp_csr = d.imm >= 0x001 && d.imm <= 0x003;  // fflags, frm, fcsr
    if (read_only || fp_csr) return BlockEnd::kFlows;
  }
  return op_block_end(d.op);
}

}  // namespace vessel::cpu::riscv
