// F and D as x86-64 code (see Emitter::floating_point for when the host's
// SSE and FMA give the exact RISC-V result).
#include <cstring>

#include "jit/emitter.h"

namespace vessel::jit::detail {

void Emitter::require_fs(Label slow) {
  a_.test(x86::dword_ptr(kHart, layout_.mstatus), 0x6000);
  a_.jz(slow);
}

void Emitter::require_nearest_inexact(unsigned rm, Label slow) {
  if (rm == 7) {
    a_.cmp(x86::byte_ptr(kHart, layout_.frm), 0);
    a_.jne(slow);
  }
  a_.test(x86::byte_ptr(kHart, layout_.fflags), 1);
  a_.jz(slow);
}

void Emitter::require_boxed(unsigned r, Label slow) {
  a_.cmp(freg_high(r), -1);
  a_.jne(slow);
}

void Emitter::require_normal(bool single, Label slow) {
  a_.mov(x86::rcx, x86::rax);
  a_.shr(x86::rcx, single ? 23 : 52);
  a_.and_(x86::ecx, single ? 0xff : 0x7ff);
  a_.cmp(x86::ecx, 1);
  a_.jbe(slow);
  a_.cmp(x86::ecx, single ? 0xff : 0x7ff);
  a_.je(slow);
}

void Emitter::store_result(bool single, unsigned rd, Label slow) {
  single ? a_.movd(x86::eax, x86::xmm0) : a_.movq(x86::rax, x86::xmm0);
  require_normal(single, slow);
  write_freg(single, rd);
}

void Emitter::write_freg(bool single, unsigned rd) {
  if (single) {
    a_.movd(freg32(rd), x86::xmm0);
    a_.mov(freg_high(rd), -1);
  } else {
    a_.movq(freg(rd), x86::xmm0);
  }
  mark_fs_dirty();
}

void Emitter::slow_path(unsigned i, Label slow, Label done) {
  const DecodedInsn& d = source_.insns[i];
  uint64_t halves[2];
  std::memcpy(halves, &d, sizeof(halves));
  Label trap = trap_exit(i);
  cold([this, i, halves0 = halves[0], halves1 = halves[1], slow, done, trap] {
    a_.bind(slow);
    set_pc(pc_of(i));
    sync();
    a_.mov(x86::rdi, kHart);
    a_.mov(x86::rsi, imm(halves0));
    a_.mov(x86::rdx, imm(halves1));
    a_.call(address_of(layout_.execute));
    a_.test(x86::al, x86::al);
    a_.jz(trap);
    load_cached();
    a_.jmp(done);
  });
}

bool Emitter::floating_point(unsigned i) {
  const DecodedInsn& d = source_.insns[i];
  switch (d.op) {
    case Op::kFld:
    case Op::kFlw:
      return fp_load(i, d.op == Op::kFlw);
    case Op::kFsd:
    case Op::kFsw:
      return fp_store(i, d.op == Op::kFsw);
    case Op::kFpOp:
      return fp_op(i);
    default:
      return fused(i);
  }
}

bool Emitter::fp_csr(unsigned i) {
  const DecodedInsn& d = source_.insns[i];
  const unsigned csr = static_cast<unsigned>(d.imm);
  if (csr < 0x001 || csr > 0x003) return false;
  const bool immediate = d.op == Op::kCsrrwi || d.op == Op::kCsrrsi || d.op == Op::kCsrrci;
  const bool swap = d.op == Op::kCsrrw || d.op == Op::kCsrrwi;
  const x86::Mem fflags = x86::byte_ptr(kHart, layout_.fflags);
  const x86::Mem frm = x86::byte_ptr(kHart, layout_.frm);
  Label slow = a_.newLabel(), done = a_.newLabel();
  require_fs(slow);  // else the slow path raises the illegal instruction
  // The old value, for rd, in rcx.
  a_.movzx(x86::ecx, csr == 0x002 ? frm : fflags);
  if (csr == 0x003) {
    a_.movzx(x86::eax, frm);
    a_.shl(x86::eax, 5);
    a_.or_(x86::ecx, x86::eax);
  }
  if (swap || d.rs1 != 0) {  // csrrs/csrrc with nothing to set or clear write nothing
    if (immediate) {
      a_.mov(x86::eax, d.rs1);
    } else {
      emit(x86::Inst::kIdMov, x86::rax, src(d.rs1));
    }
    if (d.op == Op::kCsrrs || d.op == Op::kCsrrsi) a_.or_(x86::rax, x86::rcx);
    if (d.op == Op::kCsrrc || d.op == Op::kCsrrci) {
      a_.not_(x86::rax);
      a_.and_(x86::rax, x86::rcx);
    }
    if (csr == 0x002) {
      a_.and_(x86::eax, 7);
      a_.mov(frm, x86::al);
    } else {
      a_.mov(x86::edx, x86::eax);
      a_.and_(x86::edx, 0x1f);
      a_.mov(fflags, x86::dl);
      if (csr == 0x003) {
        a_.shr(x86::eax, 5);
        a_.and_(x86::eax, 7);
        a_.mov(frm, x86::al);
      }
    }
    mark_fs_dirty();
  }
  set_reg(d.rd, x86::rcx);
  a_.bind(done);
  slow_path(i, slow, done);
  return true;
}

bool Emitter::fp_load(unsigned i, bool single) {
  const DecodedInsn& d = source_.insns[i];
  Label slow = a_.newLabel(), done = a_.newLabel();
  require_fs(slow);
  effective_address(d);
  tlb_lookup(source_.load_tlb, single ? 4 : 8, slow);
  if (single) {
    a_.mov(x86::eax, x86::dword_ptr(x86::rax));
    a_.mov(freg32(d.rd), x86::eax);
    a_.mov(freg_high(d.rd), -1);
  } else {
    a_.mov(x86::rax, x86::qword_ptr(x86::rax));
    a_.mov(freg(d.rd), x86::rax);
  }
  mark_fs_dirty();
  a_.bind(done);
  slow_path(i, slow, done);
  return true;
}

bool Emitter::fp_store(unsigned i, bool single) {
  const DecodedInsn& d = source_.insns[i];
  Label slow = a_.newLabel(), done = a_.newLabel();
  require_fs(slow);
  effective_address(d);
  a_.cmp(x86::byte_ptr(kDirtyFlag), 0);
  a_.jne(slow);
  tlb_lookup(source_.store_tlb, single ? 4 : 8, slow);
  if (single) {
    a_.mov(x86::ecx, freg32(d.rs2));
    a_.mov(x86::dword_ptr(x86::rax), x86::ecx);
  } else {
    a_.mov(x86::rcx, freg(d.rs2));
    a_.mov(x86::qword_ptr(x86::rax), x86::rcx);
  }
  a_.bind(done);
  slow_path(i, slow, done);
  return true;
}

bool Emitter::fp_op(unsigned i) {
  const DecodedInsn& d = source_.insns[i];
  const uint32_t raw = d.raw;
  const unsigned funct7 = raw >> 25, rm = (raw >> 12) & 7;
  const unsigned rd = (raw >> 7) & 31, rs1 = (raw >> 15) & 31, rs2 = (raw >> 20) & 31;
  const bool single = (funct7 & 3) == 0;
  if ((funct7 & 3) > 1) return false;
  const unsigned op = funct7 >> 2;
  Label slow = a_.newLabel(), done = a_.newLabel();
  auto operands = [&](bool two) {
    if (single) {
      require_boxed(rs1, slow);
      if (two) require_boxed(rs2, slow);
      a_.movd(x86::xmm0, freg32(rs1));
      if (two) a_.movd(x86::xmm1, freg32(rs2));
    } else {
      a_.movq(x86::xmm0, freg(rs1));
      if (two) a_.movq(x86::xmm1, freg(rs2));
    }
  };
  auto result = [&] { store_result(single, rd, slow); };
  switch (op) {
    case 0:  // fadd
    case 1:  // fsub
    case 2:  // fmul
    case 3:  // fdiv
      if (rm != 0 && rm != 7) return false;
      require_fs(slow);
      require_nearest_inexact(rm, slow);
      operands(true);
      if (single) {
        const x86::Xmm& x = x86::xmm0;
        op == 0   ? a_.addss(x, x86::xmm1)
        : op == 1 ? a_.subss(x, x86::xmm1)
        : op == 2 ? a_.mulss(x, x86::xmm1)
                  : a_.divss(x, x86::xmm1);
      } else {
        const x86::Xmm& x = x86::xmm0;
        op == 0   ? a_.addsd(x, x86::xmm1)
        : op == 1 ? a_.subsd(x, x86::xmm1)
        : op == 2 ? a_.mulsd(x, x86::xmm1)
                  : a_.divsd(x, x86::xmm1);
      }
      result();
      break;
    case 11:  // fsqrt
      if ((rm != 0 && rm != 7) || rs2 != 0) return false;
      require_fs(slow);
      require_nearest_inexact(rm, slow);
      operands(false);
      single ? a_.sqrtss(x86::xmm0, x86::xmm0) : a_.sqrtsd(x86::xmm0, x86::xmm0);
      result();
      break;
    case 4: {  // fsgnj, fsgnjn, fsgnjx: sign bits only, no flags
      if (single || rm > 2) return false;
      const uint64_t sign = uint64_t{1} << 63;
      require_fs(slow);
      a_.mov(x86::rax, freg(rs1));
      a_.mov(x86::rcx, freg(rs2));
      a_.mov(x86::rdx, imm(sign));
      if (rm == 0) {  // sign of rs2
        a_.and_(x86::rcx, x86::rdx);
        a_.not_(x86::rdx);
        a_.and_(x86::rax, x86::rdx);
        a_.or_(x86::rax, x86::rcx);
      } else if (rm == 1) {  // opposite sign of rs2
        a_.not_(x86::rcx);
        a_.and_(x86::rcx, x86::rdx);
        a_.not_(x86::rdx);
        a_.and_(x86::rax, x86::rdx);
        a_.or_(x86::rax, x86::rcx);
      } else {  // xor of signs
        a_.and_(x86::rcx, x86::rdx);
        a_.xor_(x86::rax, x86::rcx);
      }
      a_.mov(freg(rd), x86::rax);
      mark_fs_dirty();
      break;
    }
    case 20: {  // feq, flt, fle: ordered operands raise nothing
      if (rm > 2) return false;
      require_fs(slow);
      operands(true);
      a_.xor_(x86::ecx, x86::ecx);
      single ? a_.ucomiss(x86::xmm0, x86::xmm1) : a_.ucomisd(x86::xmm0, x86::xmm1);
      a_.jp(slow);  // a NaN: flags to decide, in the slow path
      a_.set(rm == 2   ? x86::CondCode::kE
             : rm == 1 ? x86::CondCode::kB
                       : x86::CondCode::kBE,
             x86::cl);
      set_reg(rd, x86::rcx);
      break;
    }
    case 26: {  // fcvt.{s,d}.{w,wu,l} (rs2 0, 1, 2): an integer to floating point
      if (rs2 > 2) return false;
      // Only int32 to double is always exact; the others may round.
      const bool exact = !single && rs2 != 2;
      if (!exact && rm != 0 && rm != 7) return false;
      require_fs(slow);
      if (!exact) require_nearest_inexact(rm, slow);
      if (rs2 == 0) {
        emit(x86::Inst::kIdMovsxd, x86::rax, src32(rs1));
      } else if (rs2 == 1) {
        emit(x86::Inst::kIdMov, x86::eax, src32(rs1));  // zero-extended
      } else {
        emit(x86::Inst::kIdMov, x86::rax, src(rs1));
      }
      single ? a_.cvtsi2ss(x86::xmm0, x86::rax) : a_.cvtsi2sd(x86::xmm0, x86::rax);
      write_freg(single, rd);  // any result of these is normal or zero
      break;
    }
    case 28:  // fmv.x.d (rm 0): raw bits to an integer register
      if (single || rm != 0 || rs2 != 0) return false;
      require_fs(slow);
      a_.mov(x86::rax, freg(rs1));
      set_reg(rd, x86::rax);
      break;
    case 30:  // fmv.d.x
      if (single || rm != 0 || rs2 != 0) return false;
      require_fs(slow);
      emit(x86::Inst::kIdMov, x86::rax, src(rs1));
      a_.mov(freg(rd), x86::rax);
      mark_fs_dirty();
      break;
    default:
      return false;
  }
  a_.bind(done);
  slow_path(i, slow, done);
  return true;
}

bool Emitter::fused(unsigned i) {
  if (!host_fma_) return false;
  const DecodedInsn& d = source_.insns[i];
  const uint32_t raw = d.raw;
  const unsigned fmt = (raw >> 25) & 3, rm = (raw >> 12) & 7;
  const unsigned rd = (raw >> 7) & 31, rs1 = (raw >> 15) & 31, rs2 = (raw >> 20) & 31,
                 rs3 = raw >> 27;
  if (fmt > 1 || (rm != 0 && rm != 7)) return false;
  const bool single = fmt == 0;
  Label slow = a_.newLabel(), done = a_.newLabel();
  require_fs(slow);
  require_nearest_inexact(rm, slow);
  if (single) {
    for (unsigned r : {rs1, rs2, rs3}) require_boxed(r, slow);
    a_.movd(x86::xmm0, freg32(rs1));
    a_.movd(x86::xmm1, freg32(rs2));
    a_.movd(x86::xmm2, freg32(rs3));
  } else {
    a_.movq(x86::xmm0, freg(rs1));
    a_.movq(x86::xmm1, freg(rs2));
    a_.movq(x86::xmm2, freg(rs3));
  }
  // xmm0 = ±(xmm0 * xmm1) ± xmm2
  switch (d.op) {
    case Op::kFmadd:
      single ? a_.vfmadd213ss(x86::xmm0, x86::xmm1, x86::xmm2)
             : a_.vfmadd213sd(x86::xmm0, x86::xmm1, x86::xmm2);
      break;
    case Op::kFmsub:
      single ? a_.vfmsub213ss(x86::xmm0, x86::xmm1, x86::xmm2)
             : a_.vfmsub213sd(x86::xmm0, x86::xmm1, x86::xmm2);
      break;
    case Op::kFnmsub:  // -(a*b) + c
      single ? a_.vfnmadd213ss(x86::xmm0, x86::xmm1, x86::xmm2)
             : a_.vfnmadd213sd(x86::xmm0, x86::xmm1, x86::xmm2);
      break;
    default:  // kFnmadd: -(a*b) - c
      single ? a_.vfnmsub213ss(x86::xmm0, x86::xmm1, x86::xmm2)
             : a_.vfnmsub213sd(x86::xmm0, x86::xmm1, x86::xmm2);
      break;
  }
  store_result(single, rd, slow);
  a_.bind(done);
  slow_path(i, slow, done);
  return true;
}

}  // namespace vessel::jit::detail
