#include "cpu/riscv/isa_table.h"

#include <array>

namespace vessel::cpu::riscv {
namespace {

struct Row {
  Op op;
  uint32_t mask;
  uint32_t match;
  Format format;
  BlockEnd end;
};

constexpr Row kRows[] = {
#define VESSEL_OP_ROW(op, name, mask, match, format, end) \
  {Op::op, mask, match, Format::format, BlockEnd::end},
    VESSEL_RISCV_INSTRUCTIONS(VESSEL_OP_ROW)
#undef VESSEL_OP_ROW
};

constexpr const char* kNames[] = {
#define VESSEL_OP_NAME(op, name, mask, match, format, end) name,
    VESSEL_RISCV_INSTRUCTIONS(VESSEL_OP_NAME)
#undef VESSEL_OP_NAME
        "illegal",
};

// The decoder is a flat table indexed by the bits that select an instruction
// in almost every row: opcode[6:2], funct3 and funct7. Rows whose mask
// reaches further (SYSTEM, LR) are resolved by scanning the table.
constexpr uint32_t kKeyMask = 0xfe00707c;
constexpr unsigned key_of(uint32_t insn) {
  return ((insn >> 2) & 0x1f) | (((insn >> 12) & 7) << 5) | ((insn >> 25) << 8);
}
constexpr uint32_t insn_of_key(unsigned key) {
  return 3 | (key & 0x1f) << 2 | ((key >> 5) & 7) << 12 | (key >> 8) << 25;
}
constexpr uint8_t kScan = 0xff;

struct DecodeTable {
  std::array<uint8_t, 1 << 15> ops{};
  DecodeTable() {
    for (unsigned key = 0; key < ops.size(); ++key) {
      uint32_t probe = insn_of_key(key);
      unsigned candidates = 0;
      uint8_t op = static_cast<uint8_t>(Op::kIllegal);
      bool exact = true;
      for (const Row& row : kRows) {
        if ((probe & row.mask & kKeyMask) != (row.match & row.mask & kKeyMask)) continue;
        ++candidates;
        op = static_cast<uint8_t>(row.op);
        exact &= (row.mask & ~(kKeyMask | 3)) == 0;
      }
      ops[key] = candidates > 1 || !exact ? kScan : op;
    }
  }
};

const DecodeTable g_decode_table;

Op scan(uint32_t insn) {
  for (const Row& row : kRows) {
    if ((insn & row.mask) == row.match) return row.op;
  }
  return Op::kIllegal;
}

}  // namespace

Op decode(uint32_t insn) {
  if ((insn & 3) != 3) return Op::kIllegal;
  uint8_t op = g_decode_table.ops[key_of(insn)];
  return op == kScan ? scan(insn) : static_cast<Op>(op);
}

const char* op_name(Op op) {
  return kNames[static_cast<unsigned>(op)];
}

Format op_format(Op op) {
  return op == Op::kIllegal ? Format::kR : kRows[static_cast<unsigned>(op)].format;
}

BlockEnd op_block_end(Op op) {
  return op == Op::kIllegal ? BlockEnd::kEndsBlock : kRows[static_cast<unsigned>(op)].end;
}

}  // namespace vessel::cpu::riscv
