// Traps: exception and interrupt entry, delegation, xRET (priv spec 3.1.6,
// 3.1.8, 3.1.9, 3.3.2, 4.1.1).
#include "cpu/riscv/csr_numbers.h"
#include "cpu/riscv/hart.h"

#ifdef VESSEL_TRACE_TRAPS
#include <cstdio>
#endif

namespace vessel::cpu::riscv {

using namespace csr;

bool Hart::raise(uint64_t cause, uint64_t tval) {
  trap_cause_ = cause;
  trap_tval_ = tval;
  return false;
}

void Hart::set_privilege(Priv priv) {
  priv_ = priv;
  attention_.store(true, std::memory_order_relaxed);
}

void Hart::take_trap(uint64_t cause, uint64_t tval, bool interrupt) {
#ifdef VESSEL_TRACE_TRAPS
  fprintf(stderr, "trap hart%u pc=%lx cause=%lu irq=%d tval=%lx priv=%d\n", hart_id_, pc_, cause,
          interrupt, tval, static_cast<int>(priv_));
#endif
  uint64_t delegation = interrupt ? mideleg_ : medeleg_;
  uint64_t cause_value = interrupt ? (kInterruptBit | cause) : cause;
  if (priv_ != Priv::kMachine && ((delegation >> cause) & 1)) {
    scause_ = cause_value;
    sepc_ = pc_;
    stval_ = tval;
    uint64_t s = mstatus_ & ~(mstatus::kSpp | mstatus::kSpie | mstatus::kSie);
    if (priv_ == Priv::kSupervisor) s |= mstatus::kSpp;
    if (mstatus_ & mstatus::kSie) s |= mstatus::kSpie;
    mstatus_ = s;
    pc_ = (stvec_ & ~uint64_t{3}) + ((stvec_ & 1) && interrupt ? 4 * cause : 0);
    set_privilege(Priv::kSupervisor);
    return;
  }
  mcause_ = cause_value;
  mepc_ = pc_;
  mtval_ = tval;
  uint64_t m = mstatus_ & ~(mstatus::kMpp | mstatus::kMpie | mstatus::kMie);
  m |= uint64_t{static_cast<uint8_t>(priv_)} << mstatus::kMppShift;
  if (mstatus_ & mstatus::kMie) m |= mstatus::kMpie;
  mstatus_ = m;
  pc_ = (mtvec_ & ~uint64_t{3}) + ((mtvec_ & 1) && interrupt ? 4 * cause : 0);
  set_privilege(Priv::kMachine);
}

bool Hart::check_interrupts() {
  uint64_t pending = mip() & mie_;
  if (!pending) return false;
  // priv spec 3.1.9: M-level interrupts are enabled below M or with MIE; S-level
  // (delegated) ones below S or in S with SIE, never in M.
  bool m_enabled = priv_ != Priv::kMachine || (mstatus_ & mstatus::kMie);
  bool s_enabled =
      priv_ == Priv::kUser || (priv_ == Priv::kSupervisor && (mstatus_ & mstatus::kSie));
  uint64_t m_pending = m_enabled ? pending & ~mideleg_ : 0;
  uint64_t s_pending = s_enabled ? pending & mideleg_ : 0;
  uint64_t candidates = m_pending ? m_pending : s_pending;
  if (!candidates) return false;
  static constexpr unsigned kPriority[] = {kMeip, kMsip, kMtip, kSeip, kSsip, kStip};
  for (unsigned bit : kPriority) {
    if (candidates & (uint64_t{1} << bit)) {
      take_trap(bit, 0, true);
      return true;
    }
  }
  return false;
}

void Hart::do_mret() {
  Priv previous = static_cast<Priv>((mstatus_ & mstatus::kMpp) >> mstatus::kMppShift);
  uint64_t m = mstatus_ & ~(mstatus::kMie | mstatus::kMpp);
  if (mstatus_ & mstatus::kMpie) m |= mstatus::kMie;
  m |= mstatus::kMpie;  // MPP becomes U (0)
  if (previous != Priv::kMachine) m &= ~mstatus::kMprv;
  mstatus_ = m;
  pc_ = mepc_;
  set_privilege(previous);
}

void Hart::do_sret() {
  Priv previous = (mstatus_ & mstatus::kSpp) ? Priv::kSupervisor : Priv::kUser;
  uint64_t s = mstatus_ & ~(mstatus::kSie | mstatus::kSpp | mstatus::kMprv);
  if (mstatus_ & mstatus::kSpie) s |= mstatus::kSie;
  s |= mstatus::kSpie;
  mstatus_ = s;
  pc_ = sepc_;
  set_privilege(previous);
}

}  // namespace vessel::cpu::riscv
