// A tiny RV64 assembler for CPU unit tests: each function returns one
// encoded instruction (unprivileged spec 2.3 formats).
#pragma once

#include <cstdint>

namespace vessel::cpu::riscv::test_asm {

inline uint32_t r(uint32_t opcode, uint32_t f3, uint32_t f7, unsigned rd, unsigned rs1,
                  unsigned rs2) {
  return opcode | rd << 7 | f3 << 12 | rs1 << 15 | rs2 << 20 | f7 << 25;
}
inline uint32_t i(uint32_t opcode, uint32_t f3, unsigned rd, unsigned rs1, int32_t imm) {
  return opcode | rd << 7 | f3 << 12 | rs1 << 15 | (static_cast<uint32_t>(imm) & 0xfff) << 20;
}
inline uint32_t s(uint32_t opcode, uint32_t f3, unsigned rs1, unsigned rs2, int32_t imm) {
  uint32_t u = static_cast<uint32_t>(imm);
  return opcode | (u & 0x1f) << 7 | f3 << 12 | rs1 << 15 | rs2 << 20 | ((u >> 5) & 0x7f) << 25;
}
inline uint32_t b(uint32_t f3, unsigned rs1, unsigned rs2, int32_t imm) {
  uint32_t u = static_cast<uint32_t>(imm);
  return 0x63 | ((u >> 11) & 1) << 7 | ((u >> 1) & 0xf) << 8 | f3 << 12 | rs1 << 15 | rs2 << 20 |
         ((u >> 5) & 0x3f) << 25 | ((u >> 12) & 1) << 31;
}

inline uint32_t addi(unsigned rd, unsigned rs1, int32_t imm) {
  return i(0x13, 0, rd, rs1, imm);
}
inline uint32_t add(unsigned rd, unsigned rs1, unsigned rs2) {
  return r(0x33, 0, 0, rd, rs1, rs2);
}
inline uint32_t lui(unsigned rd, uint32_t imm20) {
  return 0x37 | rd << 7 | imm20 << 12;
}
inline uint32_t ld(unsigned rd, unsigned rs1, int32_t imm) {
  return i(0x03, 3, rd, rs1, imm);
}
inline uint32_t lw(unsigned rd, unsigned rs1, int32_t imm) {
  return i(0x03, 2, rd, rs1, imm);
}
inline uint32_t sd(unsigned rs2, unsigned rs1, int32_t imm) {
  return s(0x23, 3, rs1, rs2, imm);
}
inline uint32_t sw(unsigned rs2, unsigned rs1, int32_t imm) {
  return s(0x23, 2, rs1, rs2, imm);
}
inline uint32_t sb(unsigned rs2, unsigned rs1, int32_t imm) {
  return s(0x23, 0, rs1, rs2, imm);
}
inline uint32_t andi(unsigned rd, unsigned rs1, int32_t imm) {
  return i(0x13, 7, rd, rs1, imm);
}
inline uint32_t slli(unsigned rd, unsigned rs1, unsigned shamt) {
  return i(0x13, 1, rd, rs1, static_cast<int32_t>(shamt));
}
inline uint32_t or_(unsigned rd, unsigned rs1, unsigned rs2) {
  return r(0x33, 6, 0, rd, rs1, rs2);
}
inline uint32_t sub(unsigned rd, unsigned rs1, unsigned rs2) {
  return r(0x33, 0, 0x20, rd, rs1, rs2);
}
inline uint32_t beq(unsigned rs1, unsigned rs2, int32_t imm) {
  return b(0, rs1, rs2, imm);
}
inline uint32_t bne(unsigned rs1, unsigned rs2, int32_t imm) {
  return b(1, rs1, rs2, imm);
}
inline uint32_t jal(unsigned rd, int32_t offset) {  // unprivileged spec 2.5.1: J-type
  uint32_t u = static_cast<uint32_t>(offset);
  return 0x6f | rd << 7 | (u & 0xff000) | ((u >> 11) & 1) << 20 | ((u >> 1) & 0x3ff) << 21 |
         ((u >> 20) & 1) << 31;
}
inline uint32_t csrrw(unsigned rd, unsigned csr, unsigned rs1) {
  return i(0x73, 1, rd, rs1, static_cast<int32_t>(csr));
}
inline uint32_t csrrs(unsigned rd, unsigned csr, unsigned rs1) {
  return i(0x73, 2, rd, rs1, static_cast<int32_t>(csr));
}
inline uint32_t csrrc(unsigned rd, unsigned csr, unsigned rs1) {
  return i(0x73, 3, rd, rs1, static_cast<int32_t>(csr));
}
inline uint32_t lr_w(unsigned rd, unsigned rs1) {
  return r(0x2f, 2, 0x08, rd, rs1, 0);
}
inline uint32_t sc_w(unsigned rd, unsigned rs1, unsigned rs2) {
  return r(0x2f, 2, 0x0c, rd, rs1, rs2);
}
inline uint32_t amoadd_d(unsigned rd, unsigned rs1, unsigned rs2) {
  return r(0x2f, 3, 0, rd, rs1, rs2);
}
inline uint32_t sfence_vma(unsigned rs1, unsigned rs2) {
  return r(0x73, 0, 9, 0, rs1, rs2);
}
constexpr uint32_t kEcall = 0x00000073;
constexpr uint32_t kMret = 0x30200073;
constexpr uint32_t kSret = 0x10200073;
constexpr uint32_t kWfi = 0x10500073;
constexpr uint32_t kFenceI = 0x0000100f;

}  // namespace vessel::cpu::riscv::test_asm
