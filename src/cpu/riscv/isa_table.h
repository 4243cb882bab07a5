// The RV64GC instruction table: one row per (uncompressed) instruction with
// its encoding mask and match value (unprivileged spec ch. 34 "RV32/64G
// Instruction Set Listings"). It drives the decoder, the interpreter's
// dispatch and the disassembler's names. Compressed instructions are
// expanded to these encodings first (see compressed.h).
#pragma once

#include <cstdint>

namespace vessel::cpu::riscv {

// X(op, name, mask, match)
#define VESSEL_RISCV_INSTRUCTIONS(X)                  \
  X(kLui, "lui", 0x0000007f, 0x00000037)              \
  X(kAuipc, "auipc", 0x0000007f, 0x00000017)          \
  X(kJal, "jal", 0x0000007f, 0x0000006f)              \
  X(kJalr, "jalr", 0x0000707f, 0x00000067)            \
  X(kBeq, "beq", 0x0000707f, 0x00000063)              \
  X(kBne, "bne", 0x0000707f, 0x00001063)              \
  X(kBlt, "blt", 0x0000707f, 0x00004063)              \
  X(kBge, "bge", 0x0000707f, 0x00005063)              \
  X(kBltu, "bltu", 0x0000707f, 0x00006063)            \
  X(kBgeu, "bgeu", 0x0000707f, 0x00007063)            \
  X(kLb, "lb", 0x0000707f, 0x00000003)                \
  X(kLh, "lh", 0x0000707f, 0x00001003)                \
  X(kLw, "lw", 0x0000707f, 0x00002003)                \
  X(kLd, "ld", 0x0000707f, 0x00003003)                \
  X(kLbu, "lbu", 0x0000707f, 0x00004003)              \
  X(kLhu, "lhu", 0x0000707f, 0x00005003)              \
  X(kLwu, "lwu", 0x0000707f, 0x00006003)              \
  X(kSb, "sb", 0x0000707f, 0x00000023)                \
  X(kSh, "sh", 0x0000707f, 0x00001023)                \
  X(kSw, "sw", 0x0000707f, 0x00002023)                \
  X(kSd, "sd", 0x0000707f, 0x00003023)                \
  X(kAddi, "addi", 0x0000707f, 0x00000013)            \
  X(kSlti, "slti", 0x0000707f, 0x00002013)            \
  X(kSltiu, "sltiu", 0x0000707f, 0x00003013)          \
  X(kXori, "xori", 0x0000707f, 0x00004013)            \
  X(kOri, "ori", 0x0000707f, 0x00006013)              \
  X(kAndi, "andi", 0x0000707f, 0x00007013)            \
  X(kSlli, "slli", 0xfc00707f, 0x00001013)            \
  X(kSrli, "srli", 0xfc00707f, 0x00005013)            \
  X(kSrai, "srai", 0xfc00707f, 0x40005013)            \
  X(kAdd, "add", 0xfe00707f, 0x00000033)              \
  X(kSub, "sub", 0xfe00707f, 0x40000033)              \
  X(kSll, "sll", 0xfe00707f, 0x00001033)              \
  X(kSlt, "slt", 0xfe00707f, 0x00002033)              \
  X(kSltu, "sltu", 0xfe00707f, 0x00003033)            \
  X(kXor, "xor", 0xfe00707f, 0x00004033)              \
  X(kSrl, "srl", 0xfe00707f, 0x00005033)              \
  X(kSra, "sra", 0xfe00707f, 0x40005033)              \
  X(kOr, "or", 0xfe00707f, 0x00006033)                \
  X(kAnd, "and", 0xfe00707f, 0x00007033)              \
  X(kAddiw, "addiw", 0x0000707f, 0x0000001b)          \
  X(kSlliw, "slliw", 0xfe00707f, 0x0000101b)          \
  X(kSrliw, "srliw", 0xfe00707f, 0x0000501b)          \
  X(kSraiw, "sraiw", 0xfe00707f, 0x4000501b)          \
  X(kAddw, "addw", 0xfe00707f, 0x0000003b)            \
  X(kSubw, "subw", 0xfe00707f, 0x4000003b)            \
  X(kSllw, "sllw", 0xfe00707f, 0x0000103b)            \
  X(kSrlw, "srlw", 0xfe00707f, 0x0000503b)            \
  X(kSraw, "sraw", 0xfe00707f, 0x4000503b)            \
  X(kFence, "fence", 0x0000707f, 0x0000000f)          \
  X(kFenceI, "fence.i", 0x0000707f, 0x0000100f)       \
  X(kEcall, "ecall", 0xffffffff, 0x00000073)          \
  X(kEbreak, "ebreak", 0xffffffff, 0x00100073)        \
  X(kSret, "sret", 0xffffffff, 0x10200073)            \
  X(kMret, "mret", 0xffffffff, 0x30200073)            \
  X(kWfi, "wfi", 0xffffffff, 0x10500073)              \
  X(kSfenceVma, "sfence.vma", 0xfe007fff, 0x12000073) \
  X(kCsrrw, "csrrw", 0x0000707f, 0x00001073)          \
  X(kCsrrs, "csrrs", 0x0000707f, 0x00002073)          \
  X(kCsrrc, "csrrc", 0x0000707f, 0x00003073)          \
  X(kCsrrwi, "csrrwi", 0x0000707f, 0x00005073)        \
  X(kCsrrsi, "csrrsi", 0x0000707f, 0x00006073)        \
  X(kCsrrci, "csrrci", 0x0000707f, 0x00007073)        \
  X(kMul, "mul", 0xfe00707f, 0x02000033)              \
  X(kMulh, "mulh", 0xfe00707f, 0x02001033)            \
  X(kMulhsu, "mulhsu", 0xfe00707f, 0x02002033)        \
  X(kMulhu, "mulhu", 0xfe00707f, 0x02003033)          \
  X(kDiv, "div", 0xfe00707f, 0x02004033)              \
  X(kDivu, "divu", 0xfe00707f, 0x02005033)            \
  X(kRem, "rem", 0xfe00707f, 0x02006033)              \
  X(kRemu, "remu", 0xfe00707f, 0x02007033)            \
  X(kMulw, "mulw", 0xfe00707f, 0x0200003b)            \
  X(kDivw, "divw", 0xfe00707f, 0x0200403b)            \
  X(kDivuw, "divuw", 0xfe00707f, 0x0200503b)          \
  X(kRemw, "remw", 0xfe00707f, 0x0200603b)            \
  X(kRemuw, "remuw", 0xfe00707f, 0x0200703b)          \
  X(kLrW, "lr.w", 0xf9f0707f, 0x1000202f)             \
  X(kScW, "sc.w", 0xf800707f, 0x1800202f)             \
  X(kAmoW, "amo.w", 0x0000707f, 0x0000202f)           \
  X(kLrD, "lr.d", 0xf9f0707f, 0x1000302f)             \
  X(kScD, "sc.d", 0xf800707f, 0x1800302f)             \
  X(kAmoD, "amo.d", 0x0000707f, 0x0000302f)           \
  X(kFlw, "flw", 0x0000707f, 0x00002007)              \
  X(kFld, "fld", 0x0000707f, 0x00003007)              \
  X(kFsw, "fsw", 0x0000707f, 0x00002027)              \
  X(kFsd, "fsd", 0x0000707f, 0x00003027)              \
  X(kFpOp, "op-fp", 0x0000007f, 0x00000053)           \
  X(kFmadd, "fmadd", 0x0000007f, 0x00000043)          \
  X(kFmsub, "fmsub", 0x0000007f, 0x00000047)          \
  X(kFnmsub, "fnmsub", 0x0000007f, 0x0000004b)        \
  X(kFnmadd, "fnmadd", 0x0000007f, 0x0000004f)

enum class Op : uint8_t {
#define VESSEL_OP_ENUM(op, name, mask, match) op,
  VESSEL_RISCV_INSTRUCTIONS(VESSEL_OP_ENUM)
#undef VESSEL_OP_ENUM
  kIllegal,
};

// Decodes a 32-bit (already expanded) instruction to its table row.
Op decode(uint32_t insn);
const char* op_name(Op op);

// Instruction fields (unprivileged spec 2.2-2.3).
inline unsigned rd(uint32_t i) { return (i >> 7) & 31; }
inline unsigned rs1(uint32_t i) { return (i >> 15) & 31; }
inline unsigned rs2(uint32_t i) { return (i >> 20) & 31; }
inline unsigned funct3(uint32_t i) { return (i >> 12) & 7; }
inline int64_t imm_i(uint32_t i) { return static_cast<int32_t>(i) >> 20; }
inline int64_t imm_s(uint32_t i) {
  return static_cast<int32_t>((i & 0xfe000000) | ((i >> 7) & 0x1f) << 20) >> 20;
}
inline int64_t imm_b(uint32_t i) {
  uint32_t v = (i & 0x80000000) | ((i & 0x80) << 23) | ((i >> 1) & 0x3f000000) | ((i << 12) & 0x00f00000);
  return static_cast<int32_t>(v) >> 19;
}
inline int64_t imm_u(uint32_t i) { return static_cast<int32_t>(i & 0xfffff000); }
inline int64_t imm_j(uint32_t i) {
  uint32_t v = (i & 0x80000000) | ((i & 0xff000) << 11) | ((i & 0x100000) << 2) | ((i >> 9) & 0x3ff000);
  return static_cast<int32_t>(v) >> 11;
}

}  // namespace vessel::cpu::riscv
