// RV64I and M as x86-64 code: ALU operations on guest registers (their
// host copies where the block caches them), multiplication and division.
#include "cpu/riscv/int_arith.h"
#include "jit/emitter.h"

namespace vessel::jit::detail {

namespace {

// The M instructions left to C++ (rare in hot code; a call is cheaper than
// the corner-case branches inline).
uint64_t op_mulhsu(uint64_t a, uint64_t b) {
  return cpu::riscv::mulhsu(static_cast<int64_t>(a), b);
}
uint64_t op_div(uint64_t a, uint64_t b) {
  return static_cast<uint64_t>(
      cpu::riscv::div_signed(static_cast<int64_t>(a), static_cast<int64_t>(b)));
}
uint64_t op_divu(uint64_t a, uint64_t b) {
  return cpu::riscv::div_unsigned(a, b);
}
uint64_t op_rem(uint64_t a, uint64_t b) {
  return static_cast<uint64_t>(
      cpu::riscv::rem_signed(static_cast<int64_t>(a), static_cast<int64_t>(b)));
}
uint64_t op_remu(uint64_t a, uint64_t b) {
  return cpu::riscv::rem_unsigned(a, b);
}
uint64_t op_divw(uint64_t a, uint64_t b) {
  return static_cast<uint64_t>(static_cast<int64_t>(
      cpu::riscv::div_signed32(static_cast<int32_t>(a), static_cast<int32_t>(b))));
}
uint64_t op_divuw(uint64_t a, uint64_t b) {
  const uint32_t q = cpu::riscv::div_unsigned32(static_cast<uint32_t>(a), static_cast<uint32_t>(b));
  return static_cast<uint64_t>(static_cast<int64_t>(static_cast<int32_t>(q)));
}
uint64_t op_remw(uint64_t a, uint64_t b) {
  return static_cast<uint64_t>(static_cast<int64_t>(
      cpu::riscv::rem_signed32(static_cast<int32_t>(a), static_cast<int32_t>(b))));
}
uint64_t op_remuw(uint64_t a, uint64_t b) {
  const uint32_t r = cpu::riscv::rem_unsigned32(static_cast<uint32_t>(a), static_cast<uint32_t>(b));
  return static_cast<uint64_t>(static_cast<int64_t>(static_cast<int32_t>(r)));
}

uint64_t (*two_operand_helper(Op op))(uint64_t, uint64_t) {
  switch (op) {
    case Op::kMulhsu:
      return op_mulhsu;
    case Op::kDiv:
      return op_div;
    case Op::kDivu:
      return op_divu;
    case Op::kRem:
      return op_rem;
    case Op::kRemu:
      return op_remu;
    case Op::kDivw:
      return op_divw;
    case Op::kDivuw:
      return op_divuw;
    case Op::kRemw:
      return op_remw;
    case Op::kRemuw:
      return op_remuw;
    default:
      return nullptr;
  }
}

}  // namespace

x86::Gp Emitter::alu_destination(const DecodedInsn& d) const {
  // In rd's host register unless writing it first would clobber rs2.
  const bool in_place = cached(d.rd) && (d.rd == d.rs1 || d.rd != d.rs2);
  return in_place ? host(d.rd) : x86::rax;
}

template <typename Emit>
void Emitter::alu(const DecodedInsn& d, Emit op) {
  const x86::Gp dst = alu_destination(d);
  if (!(cached(d.rs1) && host(d.rs1) == dst)) emit(x86::Inst::kIdMov, dst, src(d.rs1));
  op(dst);
  set_reg(d.rd, dst);
}

template <typename Emit>
void Emitter::alu32(const DecodedInsn& d, Emit op) {
  const x86::Gp dst = alu_destination(d);
  emit(x86::Inst::kIdMov, dst.r32(), src32(d.rs1));
  op(dst.r32());
  a_.movsxd(dst, dst.r32());
  set_reg(d.rd, dst);
}

void Emitter::set_if(const DecodedInsn& d, x86::CondCode condition, const Operand& rhs) {
  a_.xor_(x86::ecx, x86::ecx);
  emit(x86::Inst::kIdMov, x86::rax, src(d.rs1));
  emit(x86::Inst::kIdCmp, x86::rax, rhs);
  a_.set(condition, x86::cl);
  set_reg(d.rd, x86::rcx);
}

void Emitter::divide(const DecodedInsn& d) {
  const bool word = d.op >= Op::kDivw;
  const bool is_signed =
      d.op == Op::kDiv || d.op == Op::kRem || d.op == Op::kDivw || d.op == Op::kRemw;
  const bool remainder =
      d.op == Op::kRem || d.op == Op::kRemu || d.op == Op::kRemw || d.op == Op::kRemuw;
  Label corner = a_.newLabel(), done = a_.newLabel();
  const x86::Gp dividend = word ? x86::Gp(x86::eax) : x86::Gp(x86::rax);
  const x86::Gp divisor = word ? x86::Gp(x86::ecx) : x86::Gp(x86::rcx);
  emit(x86::Inst::kIdMov, dividend, word ? src32(d.rs1) : src(d.rs1));
  emit(x86::Inst::kIdMov, divisor, word ? src32(d.rs2) : src(d.rs2));
  a_.test(divisor, divisor);
  a_.jz(corner);
  if (is_signed) {
    a_.cmp(divisor, -1);
    a_.je(corner);
    word ? a_.cdq() : a_.cqo();
    a_.idiv(divisor);
  } else {
    a_.xor_(x86::edx, x86::edx);
    a_.div(divisor);
  }
  const x86::Gp result = remainder ? (word ? x86::Gp(x86::edx) : x86::Gp(x86::rdx)) : dividend;
  if (word) {
    a_.movsxd(x86::rax, result);
  } else if (remainder) {
    a_.mov(x86::rax, x86::rdx);
  }
  a_.bind(done);
  set_reg(d.rd, x86::rax);
  const auto helper = two_operand_helper(d.op);
  cold([this, d, helper, corner, done] {
    a_.bind(corner);
    sync();
    a_.mov(x86::rdi, mem(d.rs1));
    a_.mov(x86::rsi, mem(d.rs2));
    a_.call(address_of(helper));
    load_cached();
    a_.jmp(done);
  });
}

bool Emitter::instruction(unsigned i) {
  const DecodedInsn& d = source_.insns[i];
  const Imm k = imm(d.imm);
  const unsigned shamt = static_cast<unsigned>(d.imm) & 63;
  // ALU instructions writing x0 do nothing at all.
  if (d.rd == kZeroSink && writes_only_rd(d.op)) return false;
  switch (d.op) {
    case Op::kLui:
      a_.mov(x86::rax, k);
      set_reg(d.rd, x86::rax);
      return false;
    case Op::kAuipc:
      a_.mov(x86::rax, imm(pc_of(i) + static_cast<uint64_t>(static_cast<int64_t>(d.imm))));
      set_reg(d.rd, x86::rax);
      return false;
    case Op::kAddi:
      alu(d, [&](const x86::Gp& r) { a_.add(r, k); });
      return false;
    case Op::kSlti:
      set_if(d, x86::CondCode::kL, k);
      return false;
    case Op::kSltiu:
      set_if(d, x86::CondCode::kB, k);
      return false;
    case Op::kXori:
      alu(d, [&](const x86::Gp& r) { a_.xor_(r, k); });
      return false;
    case Op::kOri:
      alu(d, [&](const x86::Gp& r) { a_.or_(r, k); });
      return false;
    case Op::kAndi:
      alu(d, [&](const x86::Gp& r) { a_.and_(r, k); });
      return false;
    case Op::kSlli:
      alu(d, [&](const x86::Gp& r) { a_.shl(r, shamt); });
      return false;
    case Op::kSrli:
      alu(d, [&](const x86::Gp& r) { a_.shr(r, shamt); });
      return false;
    case Op::kSrai:
      alu(d, [&](const x86::Gp& r) { a_.sar(r, shamt); });
      return false;
    case Op::kAdd:
      alu(d, [&](const x86::Gp& r) { emit(x86::Inst::kIdAdd, r, src(d.rs2)); });
      return false;
    case Op::kSub:
      alu(d, [&](const x86::Gp& r) { emit(x86::Inst::kIdSub, r, src(d.rs2)); });
      return false;
    case Op::kXor:
      alu(d, [&](const x86::Gp& r) { emit(x86::Inst::kIdXor, r, src(d.rs2)); });
      return false;
    case Op::kOr:
      alu(d, [&](const x86::Gp& r) { emit(x86::Inst::kIdOr, r, src(d.rs2)); });
      return false;
    case Op::kAnd:
      alu(d, [&](const x86::Gp& r) { emit(x86::Inst::kIdAnd, r, src(d.rs2)); });
      return false;
    case Op::kSll:  // x86 masks 64-bit shift counts to 6 bits, as RV64 does
      alu(d, [&](const x86::Gp& r) {
        emit(x86::Inst::kIdMov, x86::rcx, src(d.rs2));
        a_.shl(r, x86::cl);
      });
      return false;
    case Op::kSrl:
      alu(d, [&](const x86::Gp& r) {
        emit(x86::Inst::kIdMov, x86::rcx, src(d.rs2));
        a_.shr(r, x86::cl);
      });
      return false;
    case Op::kSra:
      alu(d, [&](const x86::Gp& r) {
        emit(x86::Inst::kIdMov, x86::rcx, src(d.rs2));
        a_.sar(r, x86::cl);
      });
      return false;
    case Op::kSlt:
      set_if(d, x86::CondCode::kL, src(d.rs2));
      return false;
    case Op::kSltu:
      set_if(d, x86::CondCode::kB, src(d.rs2));
      return false;
    case Op::kAddiw:
      alu32(d, [&](const x86::Gp& r) { a_.add(r, k); });
      return false;
    case Op::kSlliw:
      alu32(d, [&](const x86::Gp& r) { a_.shl(r, shamt & 31); });
      return false;
    case Op::kSrliw:
      alu32(d, [&](const x86::Gp& r) { a_.shr(r, shamt & 31); });
      return false;
    case Op::kSraiw:
      alu32(d, [&](const x86::Gp& r) { a_.sar(r, shamt & 31); });
      return false;
    case Op::kAddw:
      alu32(d, [&](const x86::Gp& r) { emit(x86::Inst::kIdAdd, r, src32(d.rs2)); });
      return false;
    case Op::kSubw:
      alu32(d, [&](const x86::Gp& r) { emit(x86::Inst::kIdSub, r, src32(d.rs2)); });
      return false;
    case Op::kSllw:  // 32-bit shift counts are masked to 5 bits, as RV64's W forms
      alu32(d, [&](const x86::Gp& r) {
        emit(x86::Inst::kIdMov, x86::ecx, src32(d.rs2));
        a_.shl(r, x86::cl);
      });
      return false;
    case Op::kSrlw:
      alu32(d, [&](const x86::Gp& r) {
        emit(x86::Inst::kIdMov, x86::ecx, src32(d.rs2));
        a_.shr(r, x86::cl);
      });
      return false;
    case Op::kSraw:
      alu32(d, [&](const x86::Gp& r) {
        emit(x86::Inst::kIdMov, x86::ecx, src32(d.rs2));
        a_.sar(r, x86::cl);
      });
      return false;
    case Op::kMul:
      alu(d, [&](const x86::Gp& r) { emit(x86::Inst::kIdImul, r, src(d.rs2)); });
      return false;
    case Op::kMulw:
      alu32(d, [&](const x86::Gp& r) { emit(x86::Inst::kIdImul, r, src32(d.rs2)); });
      return false;
    case Op::kMulh:  // rdx:rax = rax * operand
      emit(x86::Inst::kIdMov, x86::rax, src(d.rs1));
      emit(x86::Inst::kIdMov, x86::rcx, src(d.rs2));
      a_.imul(x86::rcx);
      set_reg(d.rd, x86::rdx);
      return false;
    case Op::kMulhu:
      emit(x86::Inst::kIdMov, x86::rax, src(d.rs1));
      emit(x86::Inst::kIdMov, x86::rcx, src(d.rs2));
      a_.mul(x86::rcx);
      set_reg(d.rd, x86::rdx);
      return false;
    case Op::kDiv:
    case Op::kDivu:
    case Op::kRem:
    case Op::kRemu:
    case Op::kDivw:
    case Op::kDivuw:
    case Op::kRemw:
    case Op::kRemuw:
      divide(d);
      return false;
    case Op::kMulhsu:
      sync();
      a_.mov(x86::rdi, mem(d.rs1));
      a_.mov(x86::rsi, mem(d.rs2));
      a_.call(address_of(two_operand_helper(d.op)));
      load_cached();
      set_reg(d.rd, x86::rax);
      return false;
    case Op::kLb:
      load(i, 1, true);
      return false;
    case Op::kLh:
      load(i, 2, true);
      return false;
    case Op::kLw:
      load(i, 4, true);
      return false;
    case Op::kLd:
      load(i, 8, false);
      return false;
    case Op::kLbu:
      load(i, 1, false);
      return false;
    case Op::kLhu:
      load(i, 2, false);
      return false;
    case Op::kLwu:
      load(i, 4, false);
      return false;
    case Op::kSb:
      store(i, 1);
      return false;
    case Op::kSh:
      store(i, 2);
      return false;
    case Op::kSw:
      store(i, 4);
      return false;
    case Op::kSd:
      store(i, 8);
      return false;
    case Op::kBeq:
    case Op::kBne:
    case Op::kBlt:
    case Op::kBge:
    case Op::kBltu:
    case Op::kBgeu:
      branch(i);
      return false;
    case Op::kJal:
      if (d.rd != kZeroSink) {
        a_.mov(x86::rax, imm(pc_of(i) + d.length));
        set_reg(d.rd, x86::rax);
      }
      exit_to(pc_of(i) + static_cast<uint64_t>(static_cast<int64_t>(d.imm)), i + 1);
      return true;
    case Op::kJalr:  // the target first: rd may be rs1
      effective_address(d);
      a_.and_(x86::rax, -2);
      a_.mov(field(layout_.pc), x86::rax);
      if (d.rd != kZeroSink) {
        a_.mov(x86::rcx, imm(pc_of(i) + d.length));
        set_reg(d.rd, x86::rcx);
      }
      exit_indirect(i + 1);
      return true;
    case Op::kFld:
    case Op::kFsd:
    case Op::kFlw:
    case Op::kFsw:
    case Op::kFpOp:
    case Op::kFmadd:
    case Op::kFmsub:
    case Op::kFnmsub:
    case Op::kFnmadd:
      return floating_point(i) ? false : generic(i);
    case Op::kCsrrw:
    case Op::kCsrrs:
    case Op::kCsrrc:
    case Op::kCsrrwi:
    case Op::kCsrrsi:
    case Op::kCsrrci:
      return fp_csr(i) ? false : generic(i);
    default:
      return generic(i);
  }
}

}  // namespace vessel::jit::detail
