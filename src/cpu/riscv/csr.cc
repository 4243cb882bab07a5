// Control and status registers (priv spec ch. 2, 3 and 4): access rules,
// read and write semantics including the WARL fields.
#include "cpu/riscv/csr_numbers.h"
#include "cpu/riscv/hart.h"

namespace vessel::cpu::riscv {

using namespace csr;

namespace {}  // namespace

uint64_t Hart::read_mstatus() const {
  uint64_t v = mstatus_ | mstatus::kXlen64;
  if ((v & mstatus::kFs) == mstatus::kFs) v |= mstatus::kSd;
  return v;
}

void Hart::write_mstatus(uint64_t value) {
  uint64_t old = mstatus_;
  uint64_t next = (mstatus_ & ~mstatus::kWritable) | (value & mstatus::kWritable);
  // MPP is WARL: the reserved encoding 2 keeps the previous mode.
  if (((next & mstatus::kMpp) >> mstatus::kMppShift) == 2) {
    next = (next & ~mstatus::kMpp) | (old & mstatus::kMpp);
  }
  mstatus_ = next;
  // Cached translations embed MXR decisions (SUM selects a view: tlb_view()).
  if ((old ^ next) & mstatus::kMxr) flush_tlb();
  attention_.store(true, std::memory_order_relaxed);
}

bool Hart::csr_accessible(unsigned address, bool writing) const {
  if (static_cast<unsigned>(priv_) < ((address >> 8) & 3)) return false;
  if (writing && (address >> 10) == 3) return false;  // read-only space
  if (address >= kCycle && address <= kHpmcounter31) {
    uint64_t bit = uint64_t{1} << (address - kCycle);
    if (priv_ != Priv::kMachine && !(mcounteren_ & bit)) return false;
    if (priv_ == Priv::kUser && !(scounteren_ & bit)) return false;
  }
  if (address == kSatp && priv_ == Priv::kSupervisor && (mstatus_ & mstatus::kTvm)) return false;
  if (address <= kFcsr && (mstatus_ & mstatus::kFs) == 0) return false;
  return true;
}

// mcycle and minstret are the retired-instruction count plus an offset that
// writes to them set. While mcountinhibit stops one (priv spec 3.1.12), its
// offset holds the frozen value itself, so the hot loop never looks at it.
uint64_t Hart::counter(int64_t offset, uint64_t inhibit_bit) const {
  uint64_t value = static_cast<uint64_t>(offset);
  return (mcountinhibit_ & inhibit_bit) ? value : instret_ + value;
}

uint64_t Hart::counter_value(unsigned address) const {
  switch (address & 0x1f) {
    case 0:
      return counter(cycle_offset_, kInhibitCycle);
    case 1:
      return clock_.ticks();
    case 2:
      return counter(instret_offset_, kInhibitInstret);
    default:
      return 0;  // hpmcounters count no events
  }
}

// The write takes effect after the writing instruction retires (priv spec
// 3.3.1): minstret does not count it; mcycle (one cycle per instruction
// here) does.
void Hart::write_counter(int64_t& offset, uint64_t inhibit_bit, uint64_t value, uint64_t retiring) {
  offset =
      static_cast<int64_t>((mcountinhibit_ & inhibit_bit) ? value : value - instret_ - retiring);
}

void Hart::write_mcountinhibit(uint64_t value) {
  value &= ~uint64_t{2};  // TM: time is not ours to stop
  // A counter that stops or starts keeps its value across the change.
  auto keep = [&](int64_t& offset, uint64_t bit, uint64_t retiring) {
    if (((mcountinhibit_ ^ value) & bit) == 0) return;
    uint64_t current = counter(offset, bit);
    mcountinhibit_ ^= bit;
    write_counter(offset, bit, current, retiring);
  };
  keep(cycle_offset_, kInhibitCycle, 0);
  keep(instret_offset_, kInhibitInstret, 1);
  mcountinhibit_ = value;
}

bool Hart::csr_read(unsigned address, uint64_t& value) {
  if (address >= kPmpcfg0 && address <= kPmpcfg15) {
    unsigned n = address - kPmpcfg0;
    if (n & 1 || n >= kPmpEntries / 4) return false;  // RV64: even pmpcfg only, 16 entries
    value = 0;
    for (unsigned i = 0; i < 8; ++i) value |= uint64_t{pmpcfg_[n * 4 + i]} << (8 * i);
    return true;
  }
  if (address >= kPmpaddr0 && address <= kPmpaddr63) {
    unsigned n = address - kPmpaddr0;
    if (n >= kPmpEntries) return false;
    value = pmpaddr_[n];
    return true;
  }
  if ((address >= kCycle && address <= kHpmcounter31) ||
      (address >= kMcycle && address <= kMhpmcounter31 && address != kMcycle + 1)) {
    value = counter_value(address);
    return true;
  }
  if (address >= kMhpmevent3 && address <= kMhpmevent31) {
    value = 0;
    return true;
  }
  switch (address) {
    case kFflags:
      value = fflags_;
      return true;
    case kFrm:
      value = frm_;
      return true;
    case kFcsr:
      value = uint64_t{frm_} << 5 | fflags_;
      return true;
    case kSstatus:
      value = read_mstatus() & mstatus::kSstatusView;
      return true;
    case kSie:
      value = mie_ & mideleg_;
      return true;
    case kStvec:
      value = stvec_;
      return true;
    case kScounteren:
      value = scounteren_;
      return true;
    case kSenvcfg:
      value = senvcfg_;
      return true;
    case kSscratch:
      value = sscratch_;
      return true;
    case kSepc:
      value = sepc_;
      return true;
    case kScause:
      value = scause_;
      return true;
    case kStval:
      value = stval_;
      return true;
    case kSip:
      value = mip() & mideleg_;
      return true;
    case kSatp:
      value = satp_;
      return true;
    case kMvendorid:
    case kMarchid:
    case kMimpid:
    case kMconfigptr:
      value = 0;
      return true;
    case kMhartid:
      value = hart_id_;
      return true;
    case kMstatus:
      value = read_mstatus();
      return true;
    case kMisa:
      value = kMisaValue;
      return true;
    case kMedeleg:
      value = medeleg_;
      return true;
    case kMideleg:
      value = mideleg_;
      return true;
    case kMie:
      value = mie_;
      return true;
    case kMtvec:
      value = mtvec_;
      return true;
    case kMcounteren:
      value = mcounteren_;
      return true;
    case kMenvcfg:
      value = menvcfg_;
      return true;
    case kMcountinhibit:
      value = mcountinhibit_;
      return true;
    case kMscratch:
      value = mscratch_;
      return true;
    case kMepc:
      value = mepc_;
      return true;
    case kMcause:
      value = mcause_;
      return true;
    case kMtval:
      value = mtval_;
      return true;
    case kMip:
      value = mip();
      return true;
    case kMtinst:
    case kMtval2:
      return false;  // hypervisor extension only
    case kTselect:
      value = tselect_;
      return true;
    case kTdata1:
      value = tdata1_[tselect_];
      return true;
    case kTdata2:
      value = tdata2_[tselect_];
      return true;
    case kTdata3:
      value = tdata3_[tselect_];
      return true;
    default:
      return false;
  }
}

void Hart::write_pmpcfg(unsigned index, uint8_t value) {
  if (pmpcfg_[index] & 0x80) return;  // locked
  // The next entry's TOR range uses this pmpaddr; a locked TOR entry freezes it.
  if ((value & 3) == 2) return;  // R=0 W=1 is reserved: keep the old value
  pmpcfg_[index] = value & 0x9f;
}

bool Hart::csr_write(unsigned address, uint64_t value) {
  if (address >= kPmpcfg0 && address <= kPmpcfg15) {
    unsigned n = address - kPmpcfg0;
    if (n & 1 || n >= kPmpEntries / 4) return false;
    for (unsigned i = 0; i < 8; ++i)
      write_pmpcfg(n * 4 + i, static_cast<uint8_t>(value >> (8 * i)));
    decode_pmp();
    flush_tlb();
    return true;
  }
  if (address >= kPmpaddr0 && address <= kPmpaddr63) {
    unsigned n = address - kPmpaddr0;
    if (n >= kPmpEntries) return false;
    bool locked = pmpcfg_[n] & 0x80;
    bool next_locked_tor = n + 1 < kPmpEntries && (pmpcfg_[n + 1] & 0x98) == 0x88;
    if (!locked && !next_locked_tor) pmpaddr_[n] = value & ((uint64_t{1} << 54) - 1);
    decode_pmp();
    flush_tlb();
    return true;
  }
  if (address >= kMhpmcounter3 && address <= kMhpmcounter31) return true;  // no events counted
  if (address >= kMhpmevent3 && address <= kMhpmevent31) return true;
  switch (address) {
    case kFflags:
      fflags_ = value & 0x1f;
      mark_fs_dirty();
      return true;
    case kFrm:
      frm_ = value & 7;
      mark_fs_dirty();
      return true;
    case kFcsr:
      fflags_ = value & 0x1f;
      frm_ = (value >> 5) & 7;
      mark_fs_dirty();
      return true;
    case kSstatus:
      write_mstatus((mstatus_ & ~mstatus::kSstatusWritable) | (value & mstatus::kSstatusWritable));
      return true;
    case kSie:
      mie_ = (mie_ & ~mideleg_) | (value & mideleg_);
      break;
    case kStvec:
      if ((value & 3) < 2) stvec_ = value;
      return true;
    case kScounteren:
      scounteren_ = value & 0xffffffff;
      return true;
    case kSenvcfg:
      senvcfg_ = value & 1;
      return true;
    case kSscratch:
      sscratch_ = value;
      return true;
    case kSepc:
      sepc_ = value & ~uint64_t{1};
      return true;
    case kScause:
      scause_ = value;
      return true;
    case kStval:
      stval_ = value;
      return true;
    case kSip: {
      uint64_t writable = mideleg_ & (1 << kSsip);
      mip_sw_ = (mip_sw_ & ~writable) | (value & writable);
      break;
    }
    case kSatp: {
      uint64_t mode = value >> 60;
      if (mode != 0 && mode != 8 && mode != 9) return true;  // unsupported mode: no effect
      satp_ =
          value & ((uint64_t{0xf} << 60) | (uint64_t{0xffff} << 44) | ((uint64_t{1} << 44) - 1));
      flush_tlb();
      return true;
    }
    case kMstatus:
      write_mstatus(value);
      return true;
    case kMisa:
      return true;  // fixed: writes are ignored (WARL)
    case kMedeleg:
      medeleg_ = value & kDelegableExceptions;
      return true;
    case kMideleg:
      mideleg_ = value & kSupervisorInterrupts;
      break;
    case kMie:
      mie_ = value & kAllInterrupts;
      break;
    case kMtvec:
      if ((value & 3) < 2) mtvec_ = value;
      return true;
    case kMcounteren:
      mcounteren_ = value & 0xffffffff;
      return true;
    case kMenvcfg:
      menvcfg_ = value & 1;
      return true;
    case kMcountinhibit:
      write_mcountinhibit(value & 0xffffffff);
      return true;
    case kMscratch:
      mscratch_ = value;
      return true;
    case kMepc:
      mepc_ = value & ~uint64_t{1};
      return true;
    case kMcause:
      mcause_ = value;
      return true;
    case kMtval:
      mtval_ = value;
      return true;
    case kMip: {
      uint64_t writable = (1 << kSsip) | (1 << kStip) | (1 << kSeip);
      mip_sw_ = (mip_sw_ & ~writable) | (value & writable);
      break;
    }
    case kMcycle:
      write_counter(cycle_offset_, kInhibitCycle, value, 0);
      return true;
    case kMinstret:
      write_counter(instret_offset_, kInhibitInstret, value, 1);
      return true;
    case kTselect:
      if (value < kTriggers) tselect_ = value;
      return true;
    case kTdata1:
      write_tdata1(value);
      return true;
    case kTdata2:
      tdata2_[tselect_] = value;
      return true;
    case kTdata3:
      tdata3_[tselect_] = 0;
      return true;
    default:
      return false;
  }
  // Interrupt enables or pending bits changed: re-evaluate before the next instruction.
  attention_.store(true, std::memory_order_relaxed);
  return true;
}

}  // namespace vessel::cpu::riscv
