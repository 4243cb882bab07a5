#include "cpu/riscv/compressed.h"

#include <memory>

namespace vessel::cpu::riscv {
namespace {

uint32_t bits(uint32_t v, unsigned hi, unsigned lo) {
  return (v >> lo) & ((1u << (hi - lo + 1)) - 1);
}
uint32_t bit(uint32_t v, unsigned b) {
  return (v >> b) & 1;
}
int32_t sign_extend(uint32_t v, unsigned width) {
  uint32_t shift = 32 - width;
  return static_cast<int32_t>(v << shift) >> shift;
}

// 32-bit encoders (unprivileged spec 2.3 base instruction formats).
uint32_t enc_r(uint32_t opcode, uint32_t f3, uint32_t f7, uint32_t rd, uint32_t rs1, uint32_t rs2) {
  return opcode | rd << 7 | f3 << 12 | rs1 << 15 | rs2 << 20 | f7 << 25;
}
uint32_t enc_i(uint32_t opcode, uint32_t f3, uint32_t rd, uint32_t rs1, int32_t imm) {
  return opcode | rd << 7 | f3 << 12 | rs1 << 15 | (static_cast<uint32_t>(imm) & 0xfff) << 20;
}
uint32_t enc_s(uint32_t opcode, uint32_t f3, uint32_t rs1, uint32_t rs2, int32_t imm) {
  uint32_t u = static_cast<uint32_t>(imm);
  return opcode | (u & 0x1f) << 7 | f3 << 12 | rs1 << 15 | rs2 << 20 | ((u >> 5) & 0x7f) << 25;
}
uint32_t enc_b(uint32_t f3, uint32_t rs1, uint32_t rs2, int32_t imm) {
  uint32_t u = static_cast<uint32_t>(imm);
  return 0x63 | bit(u, 11) << 7 | bits(u, 4, 1) << 8 | f3 << 12 | rs1 << 15 | rs2 << 20 |
         bits(u, 10, 5) << 25 | bit(u, 12) << 31;
}
uint32_t enc_j(uint32_t rd, int32_t imm) {
  uint32_t u = static_cast<uint32_t>(imm);
  return 0x6f | rd << 7 | bits(u, 19, 12) << 12 | bit(u, 11) << 20 | bits(u, 10, 1) << 21 |
         bit(u, 20) << 31;
}

constexpr uint32_t kLoad = 0x03, kLoadFp = 0x07, kOpImm = 0x13, kOpImm32 = 0x1b, kStore = 0x23,
                   kStoreFp = 0x27, kOp = 0x33, kOp32 = 0x3b, kLui = 0x37, kJalr = 0x67;

uint32_t quadrant0(uint32_t c) {
  uint32_t rd_p = bits(c, 4, 2) + 8, rs1_p = bits(c, 9, 7) + 8;
  // Offsets scaled by 8 (ld/fld/sd/fsd) and by 4 (lw/sw).
  int32_t off8 = static_cast<int32_t>(bits(c, 12, 10) << 3 | bits(c, 6, 5) << 6);
  int32_t off4 = static_cast<int32_t>(bits(c, 12, 10) << 3 | bit(c, 6) << 2 | bit(c, 5) << 6);
  switch (bits(c, 15, 13)) {
    case 0: {  // c.addi4spn
      uint32_t imm = bits(c, 12, 11) << 4 | bits(c, 10, 7) << 6 | bit(c, 6) << 2 | bit(c, 5) << 3;
      if (imm == 0) return 0;
      return enc_i(kOpImm, 0, rd_p, 2, static_cast<int32_t>(imm));
    }
    case 1:
      return enc_i(kLoadFp, 3, rd_p, rs1_p, off8);  // c.fld
    case 2:
      return enc_i(kLoad, 2, rd_p, rs1_p, off4);  // c.lw
    case 3:
      return enc_i(kLoad, 3, rd_p, rs1_p, off8);  // c.ld
    case 5:
      return enc_s(kStoreFp, 3, rs1_p, rd_p, off8);  // c.fsd
    case 6:
      return enc_s(kStore, 2, rs1_p, rd_p, off4);  // c.sw
    case 7:
      return enc_s(kStore, 3, rs1_p, rd_p, off8);  // c.sd
    default:
      return 0;
  }
}

uint32_t quadrant1(uint32_t c) {
  uint32_t rd = bits(c, 11, 7);
  int32_t imm6 = sign_extend(bit(c, 12) << 5 | bits(c, 6, 2), 6);
  uint32_t rd_p = bits(c, 9, 7) + 8, rs2_p = bits(c, 4, 2) + 8;
  switch (bits(c, 15, 13)) {
    case 0:
      return enc_i(kOpImm, 0, rd, rd, imm6);  // c.addi (c.nop)
    case 1:                                   // c.addiw
      if (rd == 0) return 0;
      return enc_i(kOpImm32, 0, rd, rd, imm6);
    case 2:
      return enc_i(kOpImm, 0, rd, 0, imm6);  // c.li
    case 3:
      if (rd == 2) {  // c.addi16sp
        int32_t imm = sign_extend(
            bit(c, 12) << 9 | bit(c, 6) << 4 | bit(c, 5) << 6 | bits(c, 4, 3) << 7 | bit(c, 2) << 5,
            10);
        if (imm == 0) return 0;
        return enc_i(kOpImm, 0, 2, 2, imm);
      } else {  // c.lui
        if (imm6 == 0) return 0;
        return kLui | rd << 7 | (static_cast<uint32_t>(imm6) & 0xfffff) << 12;
      }
    case 4: {
      uint32_t shamt = bit(c, 12) << 5 | bits(c, 6, 2);
      switch (bits(c, 11, 10)) {
        case 0:
          return enc_i(kOpImm, 5, rd_p, rd_p, static_cast<int32_t>(shamt));  // c.srli
        case 1:
          return enc_i(kOpImm, 5, rd_p, rd_p, static_cast<int32_t>(shamt | 0x400));  // c.srai
        case 2:
          return enc_i(kOpImm, 7, rd_p, rd_p, imm6);  // c.andi
        default: {
          static constexpr uint32_t kF3[4] = {0, 4, 6, 7};  // sub xor or and
          uint32_t sel = bits(c, 6, 5);
          if (bit(c, 12) == 0) return enc_r(kOp, kF3[sel], sel == 0 ? 0x20 : 0, rd_p, rd_p, rs2_p);
          if (sel == 0) return enc_r(kOp32, 0, 0x20, rd_p, rd_p, rs2_p);  // c.subw
          if (sel == 1) return enc_r(kOp32, 0, 0, rd_p, rd_p, rs2_p);     // c.addw
          return 0;
        }
      }
    }
    case 5: {  // c.j
      int32_t imm =
          sign_extend(bit(c, 12) << 11 | bit(c, 11) << 4 | bits(c, 10, 9) << 8 | bit(c, 8) << 10 |
                          bit(c, 7) << 6 | bit(c, 6) << 7 | bits(c, 5, 3) << 1 | bit(c, 2) << 5,
                      12);
      return enc_j(0, imm);
    }
    default: {  // c.beqz / c.bnez
      int32_t imm = sign_extend(bit(c, 12) << 8 | bits(c, 11, 10) << 3 | bits(c, 6, 5) << 6 |
                                    bits(c, 4, 3) << 1 | bit(c, 2) << 5,
                                9);
      return enc_b(bits(c, 15, 13) == 6 ? 0 : 1, rd_p, 0, imm);
    }
  }
}

uint32_t quadrant2(uint32_t c) {
  uint32_t rd = bits(c, 11, 7), rs2 = bits(c, 6, 2);
  int32_t sp_off8 = static_cast<int32_t>(bit(c, 12) << 5 | bits(c, 6, 5) << 3 | bits(c, 4, 2) << 6);
  int32_t sp_off4 = static_cast<int32_t>(bit(c, 12) << 5 | bits(c, 6, 4) << 2 | bits(c, 3, 2) << 6);
  int32_t st_off8 = static_cast<int32_t>(bits(c, 12, 10) << 3 | bits(c, 9, 7) << 6);
  int32_t st_off4 = static_cast<int32_t>(bits(c, 12, 9) << 2 | bits(c, 8, 7) << 6);
  switch (bits(c, 15, 13)) {
    case 0:  // c.slli
      return enc_i(kOpImm, 1, rd, rd, static_cast<int32_t>(bit(c, 12) << 5 | rs2));
    case 1:
      return enc_i(kLoadFp, 3, rd, 2, sp_off8);  // c.fldsp
    case 2:                                      // c.lwsp
      if (rd == 0) return 0;
      return enc_i(kLoad, 2, rd, 2, sp_off4);
    case 3:  // c.ldsp
      if (rd == 0) return 0;
      return enc_i(kLoad, 3, rd, 2, sp_off8);
    case 4:
      if (bit(c, 12) == 0) {
        if (rs2 == 0) return rd == 0 ? 0 : enc_i(kJalr, 0, 0, rd, 0);  // c.jr
        return enc_r(kOp, 0, 0, rd, 0, rs2);                           // c.mv
      }
      if (rs2 == 0) {
        if (rd == 0) return 0x00100073;    // c.ebreak
        return enc_i(kJalr, 0, 1, rd, 0);  // c.jalr
      }
      return enc_r(kOp, 0, 0, rd, rd, rs2);  // c.add
    case 5:
      return enc_s(kStoreFp, 3, 2, rs2, st_off8);  // c.fsdsp
    case 6:
      return enc_s(kStore, 2, 2, rs2, st_off4);  // c.swsp
    default:
      return enc_s(kStore, 3, 2, rs2, st_off8);  // c.sdsp
  }
}

uint32_t expand_slow(uint32_t c) {
  switch (c & 3) {
    case 0:
      return quadrant0(c);
    case 1:
      return quadrant1(c);
    case 2:
      return quadrant2(c);
    default:
      return 0;
  }
}

struct ExpansionTable {
  std::unique_ptr<uint32_t[]> entries{new uint32_t[65536]};
  ExpansionTable() {
    for (uint32_t c = 0; c < 65536; ++c) entries[c] = expand_slow(c);
  }
};

const ExpansionTable g_table;

}  // namespace

uint32_t expand_compressed(uint16_t insn) {
  return g_table.entries[insn];
}

}  // namespace vessel::cpu::riscv
