// The RV64GC instruction table: one row per (uncompressed) instruction with
// its encoding mask and match value (unprivileged spec ch. 34 "RV32/64G
// Instruction Set Listings"). It drives the decoder, the interpreter's
// dispatch and the disassembler's names. Compressed instructions are
// expanded to these encodings first (see compressed.h).
#pragma once

#include <cstdint>

namespace vessel::cpu::riscv {

// How an instruction's immediate is encoded (unprivileged spec 2.3); kCsr
// carries the CSR number, kR has no immediate.
enum class Format : uint8_t { kR, kI, kS, kB, kU, kJ, kCsr };
// Whether an instruction must end a block of pre-decoded instructions: it
// jumps, or changes state that decoding depends on. Conditional branches do
// not: a block continues with the fall-through path and is left early when
// the branch is taken.
enum class BlockEnd : uint8_t { kFlows, kEndsBlock };

// X(op, name, mask, match, format, block end)
#define VESSEL_RISCV_INSTRUCTIONS(X)                                  \
  X(kLui, "lui", 0x0000007f, 0x00000037, kU, kFlows)                  \
  X(kAuipc, "auipc", 0x0000007f, 0x00000017, kU, kFlows)              \
  X(kJal, "jal", 0x0000007f, 0x0000006f, kJ, kEndsBlock)              \
  X(kJalr, "jalr", 0x0000707f, 0x00000067, kI, kEndsBlock)            \
  X(kBeq, "beq", 0x0000707f, 0x00000063, kB, kFlows)                  \
  X(kBne, "bne", 0x0000707f, 0x00001063, kB, kFlows)                  \
  X(kBlt, "blt", 0x0000707f, 0x00004063, kB, kFlows)                  \
  X(kBge, "bge", 0x0000707f, 0x00005063, kB, kFlows)                  \
  X(kBltu, "bltu", 0x0000707f, 0x00006063, kB, kFlows)                \
  X(kBgeu, "bgeu", 0x0000707f, 0x00007063, kB, kFlows)                \
  X(kLb, "lb", 0x0000707f, 0x00000003, kI, kFlows)                    \
  X(kLh, "lh", 0x0000707f, 0x00001003, kI, kFlows)                    \
  X(kLw, "lw", 0x0000707f, 0x00002003, kI, kFlows)                    \
  X(kLd, "ld", 0x0000707f, 0x00003003, kI, kFlows)                    \
  X(kLbu, "lbu", 0x0000707f, 0x00004003, kI, kFlows)                  \
  X(kLhu, "lhu", 0x0000707f, 0x00005003, kI, kFlows)                  \
  X(kLwu, "lwu", 0x0000707f, 0x00006003, kI, kFlows)                  \
  X(kSb, "sb", 0x0000707f, 0x00000023, kS, kFlows)                    \
  X(kSh, "sh", 0x0000707f, 0x00001023, kS, kFlows)                    \
  X(kSw, "sw", 0x0000707f, 0x00002023, kS, kFlows)                    \
  X(kSd, "sd", 0x0000707f, 0x00003023, kS, kFlows)                    \
  X(kAddi, "addi", 0x0000707f, 0x00000013, kI, kFlows)                \
  X(kSlti, "slti", 0x0000707f, 0x00002013, kI, kFlows)                \
  X(kSltiu, "sltiu", 0x0000707f, 0x00003013, kI, kFlows)              \
  X(kXori, "xori", 0x0000707f, 0x00004013, kI, kFlows)                \
  X(kOri, "ori", 0x0000707f, 0x00006013, kI, kFlows)                  \
  X(kAndi, "andi", 0x0000707f, 0x00007013, kI, kFlows)                \
  X(kSlli, "slli", 0xfc00707f, 0x00001013, kI, kFlows)                \
  X(kSrli, "srli", 0xfc00707f, 0x00005013, kI, kFlows)                \
  X(kSrai, "srai", 0xfc00707f, 0x40005013, kI, kFlows)                \
  X(kAdd, "add", 0xfe00707f, 0x00000033, kR, kFlows)                  \
  X(kSub, "sub", 0xfe00707f, 0x40000033, kR, kFlows)                  \
  X(kSll, "sll", 0xfe00707f, 0x00001033, kR, kFlows)                  \
  X(kSlt, "slt", 0xfe00707f, 0x00002033, kR, kFlows)                  \
  X(kSltu, "sltu", 0xfe00707f, 0x00003033, kR, kFlows)                \
  X(kXor, "xor", 0xfe00707f, 0x00004033, kR, kFlows)                  \
  X(kSrl, "srl", 0xfe00707f, 0x00005033, kR, kFlows)                  \
  X(kSra, "sra", 0xfe00707f, 0x40005033, kR, kFlows)                  \
  X(kOr, "or", 0xfe00707f, 0x00006033, kR, kFlows)                    \
  X(kAnd, "and", 0xfe00707f, 0x00007033, kR, kFlows)                  \
  X(kAddiw, "addiw", 0x0000707f, 0x0000001b, kI, kFlows)              \
  X(kSlliw, "slliw", 0xfe00707f, 0x0000101b, kI, kFlows)              \
  X(kSrliw, "srliw", 0xfe00707f, 0x0000501b, kI, kFlows)              \
  X(kSraiw, "sraiw", 0xfe00707f, 0x4000501b, kI, kFlows)              \
  X(kAddw, "addw", 0xfe00707f, 0x0000003b, kR, kFlows)                \
  X(kSubw, "subw", 0xfe00707f, 0x4000003b, kR, kFlows)                \
  X(kSllw, "sllw", 0xfe00707f, 0x0000103b, kR, kFlows)                \
  X(kSrlw, "srlw", 0xfe00707f, 0x0000503b, kR, kFlows)                \
  X(kSraw, "sraw", 0xfe00707f, 0x4000503b, kR, kFlows)                \
  X(kFence, "fence", 0x0000707f, 0x0000000f, kR, kFlows)              \
  X(kFenceI, "fence.i", 0x0000707f, 0x0000100f, kR, kEndsBlock)       \
  X(kEcall, "ecall", 0xffffffff, 0x00000073, kR, kEndsBlock)          \
  X(kEbreak, "ebreak", 0xffffffff, 0x00100073, kR, kEndsBlock)        \
  X(kSret, "sret", 0xffffffff, 0x10200073, kR, kEndsBlock)            \
  X(kMret, "mret", 0xffffffff, 0x30200073, kR, kEndsBlock)            \
  X(kWfi, "wfi", 0xffffffff, 0x10500073, kR, kEndsBlock)              \
  X(kSfenceVma, "sfence.vma", 0xfe007fff, 0x12000073, kR, kEndsBlock) \
  X(kCsrrw, "csrrw", 0x0000707f, 0x00001073, kCsr, kEndsBlock)        \
  X(kCsrrs, "csrrs", 0x0000707f, 0x00002073, kCsr, kEndsBlock)        \
  X(kCsrrc, "csrrc", 0x0000707f, 0x00003073, kCsr, kEndsBlock)        \
  X(kCsrrwi, "csrrwi", 0x0000707f, 0x00005073, kCsr, kEndsBlock)      \
  X(kCsrrsi, "csrrsi", 0x0000707f, 0x00006073, kCsr, kEndsBlock)      \
  X(kCsrrci, "csrrci", 0x0000707f, 0x00007073, kCsr, kEndsBlock)      \
  X(kMul, "mul", 0xfe00707f, 0x02000033, kR, kFlows)                  \
  X(kMulh, "mulh", 0xfe00707f, 0x02001033, kR, kFlows)                \
  X(kMulhsu, "mulhsu", 0xfe00707f, 0x02002033, kR, kFlows)            \
  X(kMulhu, "mulhu", 0xfe00707f, 0x02003033, kR, kFlows)              \
  X(kDiv, "div", 0xfe00707f, 0x02004033, kR, kFlows)                  \
  X(kDivu, "divu", 0xfe00707f, 0x02005033, kR, kFlows)                \
  X(kRem, "rem", 0xfe00707f, 0x02006033, kR, kFlows)                  \
  X(kRemu, "remu", 0xfe00707f, 0x02007033, kR, kFlows)                \
  X(kMulw, "mulw", 0xfe00707f, 0x0200003b, kR, kFlows)                \
  X(kDivw, "divw", 0xfe00707f, 0x0200403b, kR, kFlows)                \
  X(kDivuw, "divuw", 0xfe00707f, 0x0200503b, kR, kFlows)              \
  X(kRemw, "remw", 0xfe00707f, 0x0200603b, kR, kFlows)                \
  X(kRemuw, "remuw", 0xfe00707f, 0x0200703b, kR, kFlows)              \
  X(kLrW, "lr.w", 0xf9f0707f, 0x1000202f, kR, kFlows)                 \
  X(kScW, "sc.w", 0xf800707f, 0x1800202f, kR, kFlows)                 \
  X(kAmoW, "amo.w", 0x0000707f, 0x0000202f, kR, kFlows)               \
  X(kLrD, "lr.d", 0xf9f0707f, 0x1000302f, kR, kFlows)                 \
  X(kScD, "sc.d", 0xf800707f, 0x1800302f, kR, kFlows)                 \
  X(kAmoD, "amo.d", 0x0000707f, 0x0000302f, kR, kFlows)               \
  X(kFlw, "flw", 0x0000707f, 0x00002007, kI, kFlows)                  \
  X(kFld, "fld", 0x0000707f, 0x00003007, kI, kFlows)                  \
  X(kFsw, "fsw", 0x0000707f, 0x00002027, kS, kFlows)                  \
  X(kFsd, "fsd", 0x0000707f, 0x00003027, kS, kFlows)                  \
  X(kFpOp, "op-fp", 0x0000007f, 0x00000053, kR, kFlows)               \
  X(kFmadd, "fmadd", 0x0000007f, 0x00000043, kR, kFlows)              \
  X(kFmsub, "fmsub", 0x0000007f, 0x00000047, kR, kFlows)              \
  X(kFnmsub, "fnmsub", 0x0000007f, 0x0000004b, kR, kFlows)            \
  X(kFnmadd, "fnmadd", 0x0000007f, 0x0000004f, kR, kFlows)

// The instructions the interpreter runs in its threaded fast path.
#define VESSEL_HOT_OPS(X)                                                                         \
  X(kLui)                                                                                         \
  X(kAuipc)                                                                                       \
  X(kAddi)                                                                                        \
  X(kSlti)                                                                                        \
  X(kSltiu)                                                                                       \
  X(kXori)                                                                                        \
  X(kOri)                                                                                         \
  X(kAndi)                                                                                        \
  X(kSlli)                                                                                        \
  X(kSrli)                                                                                        \
  X(kSrai)                                                                                        \
  X(kAdd)                                                                                         \
  X(kSub)                                                                                         \
  X(kSll)                                                                                         \
  X(kSlt) X(kSltu) X(kXor) X(kSrl) X(kSra) X(kOr) X(kAnd) X(kAddiw) X(kSlliw) X(kSrliw) X(kSraiw) \
      X(kAddw) X(kSubw) X(kSllw) X(kSrlw) X(kSraw) X(kMul) X(kMulh) X(kMulhsu) X(kMulhu) X(kDiv)  \
          X(kDivu) X(kRem) X(kRemu) X(kMulw) X(kDivw) X(kDivuw) X(kRemw) X(kRemuw) X(kLb) X(kLh)  \
              X(kLw) X(kLd) X(kLbu) X(kLhu) X(kLwu) X(kSb) X(kSh) X(kSw) X(kSd) X(kBeq) X(kBne)   \
                  X(kBlt) X(kBge) X(kBltu) X(kBgeu) X(kJal) X(kJalr)

enum class Op : uint8_t {
#define VESSEL_OP_ENUM(op, name, mask, match, format, end) op,
  VESSEL_RISCV_INSTRUCTIONS(VESSEL_OP_ENUM)
#undef VESSEL_OP_ENUM
      kIllegal,
};

// Decodes a 32-bit (already expanded) instruction to its table row.
Op decode(uint32_t insn);
const char* op_name(Op op);
Format op_format(Op op);
BlockEnd op_block_end(Op op);

// Instruction fields (unprivileged spec 2.2-2.3).
inline unsigned rd(uint32_t i) {
  return (i >> 7) & 31;
}
inline unsigned rs1(uint32_t i) {
  return (i >> 15) & 31;
}
inline unsigned rs2(uint32_t i) {
  return (i >> 20) & 31;
}
inline unsigned funct3(uint32_t i) {
  return (i >> 12) & 7;
}
inline int64_t imm_i(uint32_t i) {
  return static_cast<int32_t>(i) >> 20;
}
inline int64_t imm_s(uint32_t i) {
  return static_cast<int32_t>((i & 0xfe000000) | ((i >> 7) & 0x1f) << 20) >> 20;
}
inline int64_t imm_b(uint32_t i) {
  uint32_t v =
      (i & 0x80000000) | ((i & 0x80) << 23) | ((i >> 1) & 0x3f000000) | ((i << 12) & 0x00f00000);
  return static_cast<int32_t>(v) >> 19;
}
inline int64_t imm_u(uint32_t i) {
  return static_cast<int32_t>(i & 0xfffff000);
}
inline int64_t imm_j(uint32_t i) {
  uint32_t v =
      (i & 0x80000000) | ((i & 0xff000) << 11) | ((i & 0x100000) << 2) | ((i >> 9) & 0x3ff000);
  return static_cast<int32_t>(v) >> 11;
}

}  // namespace vessel::cpu::riscv
