#include "cpu/riscv/isa_table.h"

#include <array>
#include <vector>

namespace vessel::cpu::riscv {
namespace {

struct Row {
  Op op;
  uint32_t mask;
  uint32_t match;
};

constexpr Row kRows[] = {
#define VESSEL_OP_ROW(op, name, mask, match) {Op::op, mask, match},
    VESSEL_RISCV_INSTRUCTIONS(VESSEL_OP_ROW)
#undef VESSEL_OP_ROW
};

constexpr const char* kNames[] = {
#define VESSEL_OP_NAME(op, name, mask, match) name,
    VESSEL_RISCV_INSTRUCTIONS(VESSEL_OP_NAME)
#undef VESSEL_OP_NAME
    "illegal",
};

// Rows bucketed by opcode[6:2] and funct3, so a decode scans only the few
// rows that can match.
constexpr unsigned bucket_of(uint32_t insn) { return ((insn >> 2) & 0x1f) | (((insn >> 12) & 7) << 5); }

struct DecodeIndex {
  std::array<std::vector<Row>, 256> buckets;
  DecodeIndex() {
    for (const Row& row : kRows) {
      for (uint32_t f3 = 0; f3 < 8; ++f3) {
        uint32_t probe = (row.match & 0x7f) | (f3 << 12);
        if ((row.mask & 0x7000) && ((row.match >> 12) & 7) != f3) continue;
        buckets[bucket_of(probe)].push_back(row);
      }
    }
  }
};

const DecodeIndex& index() {
  static const DecodeIndex instance;
  return instance;
}

}  // namespace

Op decode(uint32_t insn) {
  if ((insn & 3) != 3) return Op::kIllegal;
  for (const Row& row : index().buckets[bucket_of(insn)]) {
    if ((insn & row.mask) == row.match) return row.op;
  }
  return Op::kIllegal;
}

const char* op_name(Op op) { return kNames[static_cast<unsigned>(op)]; }

}  // namespace vessel::cpu::riscv
