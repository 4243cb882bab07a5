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

template <typename Emit>
void Emitter::alu(const DecodedInsn& d, Emit op) {
  emit(x86::Inst::kIdMov, x86::rax, src(d.rs1));
  op();
  set_reg(d.rd, x86::rax);
}

template <typename Emit>
void Emitter::alu32(const DecodedInsn& d, Emit op) {
  emit(x86::Inst::kIdMov, x86::eax, src32(d.rs1));
  op();
  a_.movsxd(x86::rax, x86::eax);
  set_reg(d.rd, x86::rax);
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
      alu(d, [&] { a_.add(x86::rax, k); });
      return false;
    case Op::kSlti:
      set_if(d, x86::CondCode::kL, k);
      return false;
    case Op::kSltiu:
      set_if(d, x86::CondCode::kB, k);
      return false;
    case Op::kXori:
      alu(d, [&] { a_.xor_(x86::rax, k); });
      return false;
    case Op::kOri:
      alu(d, [&] { a_.or_(x86::rax, k); });
      return false;
    case Op::kAndi:
      alu(d, [&] { a_.and_(x86::rax, k); });
      return false;
    case Op::kSlli:
      alu(d, [&] { a_.shl(x86::rax, shamt); });
      return false;
    case Op::kSrli:
      alu(d, [&] { a_.shr(x86::rax, shamt); });
      return false;
    case Op::kSrai:
      alu(d, [&] { a_.sar(x86::rax, shamt); });
      return false;
    case Op::kAdd:
      alu(d, [&] { emit(x86::Inst::kIdAdd, x86::rax, src(d.rs2)); });
      return false;
    case Op::kSub:
      alu(d, [&] { emit(x86::Inst::kIdSub, x86::rax, src(d.rs2)); });
      return false;
    case Op::kXor:
      alu(d, [&] { emit(x86::Inst::kIdXor, x86::rax, src(d.rs2)); });
      return false;
    case Op::kOr:
      alu(d, [&] { emit(x86::Inst::kIdOr, x86::rax, src(d.rs2)); });
      return false;
    case Op::kAnd:
      alu(d, [&] { emit(x86::Inst::kIdAnd, x86::rax, src(d.rs2)); });
      return false;
    case Op::kSll:  // x86 masks 64-bit shift counts to 6 bits, as RV64 does
      alu(d, [&] {
        emit(x86::Inst::kIdMov, x86::rcx, src(d.rs2));
        a_.shl(x86::rax, x86::cl);
      });
      return false;
    case Op::kSrl:
      alu(d, [&] {
        emit(x86::Inst::kIdMov, x86::rcx, src(d.rs2));
        a_.shr(x86::rax, x86::cl);
      });
      return false;
    case Op::kSra:
      alu(d, [&] {
        emit(x86::Inst::kIdMov, x86::rcx, src(d.rs2));
        a_.sar(x86::rax, x86::cl);
      });
      return false;
    case Op::kSlt:
      set_if(d, x86::CondCode::kL, src(d.rs2));
      return false;
    case Op::kSltu:
      set_if(d, x86::CondCode::kB, src(d.rs2));
      return false;
    case Op::kAddiw:
      alu32(d, [&] { a_.add(x86::eax, k); });
      return false;
    case Op::kSlliw:
      alu32(d, [&] { a_.shl(x86::eax, shamt & 31); });
      return false;
    case Op::kSrliw:
      alu32(d, [&] { a_.shr(x86::eax, shamt & 31); });
      return false;
    case Op::kSraiw:
      alu32(d, [&] { a_.sar(x86::eax, shamt & 31); });
      return false;
    case Op::kAddw:
      alu32(d, [&] { emit(x86::Inst::kIdAdd, x86::eax, src32(d.rs2)); });
      return false;
    case Op::kSubw:
      alu32(d, [&] { emit(x86::Inst::kIdSub, x86::eax, src32(d.rs2)); });
      return false;
    case Op::kSllw:  // 32-bit shift counts are masked to 5 bits, as RV64's W forms
      alu32(d, [&] {
        emit(x86::Inst::kIdMov, x86::ecx, src32(d.rs2));
        a_.shl(x86::eax, x86::cl);
      });
      return false;
    case Op::kSrlw:
      alu32(d, [&] {
        emit(x86::Inst::kIdMov, x86::ecx, src32(d.rs2));
        a_.shr(x86::eax, x86::cl);
      });
      return false;
    case Op::kSraw:
      alu32(d, [&] {
        emit(x86::Inst::kIdMov, x86::ecx, src32(d.rs2));
        a_.sar(x86::eax, x86::cl);
      });
      return false;
    case Op::kMul:
      alu(d, [&] { emit(x86::Inst::kIdImul, x86::rax, src(d.rs2)); });
      return false;
    case Op::kMulw:
      alu32(d, [&] { emit(x86::Inst::kIdImul, x86::eax, src32(d.rs2)); });
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
    default:
      return generic(i);
  }
}

}  // namespace vessel::jit::detail
