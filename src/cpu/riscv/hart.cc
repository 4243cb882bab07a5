#include "cpu/riscv/hart.h"

#include "cpu/riscv/csr_numbers.h"

namespace vessel::cpu::riscv {

Hart::Hart(memory::AddressSpace& bus, const GuestClock& clock, unsigned hart_id)
    : bus_(bus), clock_(clock), hart_id_(hart_id) {
  reset(0);
  bus_.code_pages().watch(&attention_);
}

Hart::~Hart() {
  bus_.code_pages().unwatch(&attention_);
}

void Hart::reset(uint64_t pc) {
  std::fill(std::begin(x_), std::end(x_), 0);
  std::fill(std::begin(f_), std::end(f_), 0);
  pc_ = pc;
  priv_ = Priv::kMachine;
  instret_ = 0;
  waiting_ = false;
  mstatus_ = 0;
  medeleg_ = mideleg_ = mie_ = 0;
  mip_sw_ = 0;
  mtvec_ = mscratch_ = mepc_ = mcause_ = mtval_ = 0;
  mcounteren_ = menvcfg_ = mcountinhibit_ = 0;
  stvec_ = sscratch_ = sepc_ = scause_ = stval_ = satp_ = 0;
  scounteren_ = senvcfg_ = 0;
  cycle_offset_ = instret_offset_ = 0;
  fflags_ = frm_ = 0;
  std::fill(std::begin(pmpcfg_), std::end(pmpcfg_), 0);
  std::fill(std::begin(pmpaddr_), std::end(pmpaddr_), 0);
  decode_pmp();
  tselect_ = 0;
  triggers_armed_ = false;
  for (unsigned i = 0; i < kTriggers; ++i) {
    tdata1_[i] = kTdata1Mcontrol;  // disabled
    tdata2_[i] = tdata3_[i] = 0;
  }
  reservation_valid_ = false;
  flush_tlb();
  flush_blocks();
  attention_.store(true);
}

void Hart::set_interrupt_pending(unsigned bit, bool level) {
  uint64_t mask = uint64_t{1} << bit;
  if (level) {
    mip_hw_.fetch_or(mask, std::memory_order_acq_rel);
  } else {
    mip_hw_.fetch_and(~mask, std::memory_order_acq_rel);
  }
  attention_.store(true, std::memory_order_release);
  if (level) {
    std::lock_guard lock(wait_mutex_);
    wait_cv_.notify_all();
  }
}

void Hart::kick() {
  kicked_.store(true, std::memory_order_release);
  attention_.store(true, std::memory_order_release);
  std::lock_guard lock(wait_mutex_);
  wait_cv_.notify_all();
}

void Hart::retime() {
  std::lock_guard lock(wait_mutex_);
  retimed_ = true;
  wait_cv_.notify_all();
}

void Hart::wait_for_interrupt(const GuestClock& clock, const std::function<uint64_t()>& deadline) {
  std::unique_lock lock(wait_mutex_);
  for (;;) {
    // Read under the lock: a retime() after this read wakes the wait below.
    retimed_ = false;
    const uint64_t until = deadline();
    auto wake = [&] {
      return (mip() & mie_) != 0 || kicked_.load(std::memory_order_acquire) || retimed_ ||
             clock.ticks() >= until;
    };
    if (until == UINT64_MAX) {
      wait_cv_.wait(lock, wake);
    } else {
      wait_cv_.wait_until(lock, clock.instant_of(until), wake);
    }
    if (!retimed_) return;
  }
}

uint64_t Hart::supervisor_timer_deadline() const {
  return UINT64_MAX;
}

void Hart::save(StateWriter& out) const {
  out.begin_section("riscv-hart", 1);
  out.u32(hart_id_);
  for (unsigned i = 0; i < 32; ++i) out.u64(x_[i]);
  out.array(f_);
  out.u64(pc_);
  out.u8(static_cast<uint8_t>(priv_));
  out.u64(instret_);
  out.boolean(waiting_);
  for (uint64_t v :
       {mstatus_, medeleg_, mideleg_,    mie_,        mip_sw_,        mtvec_,  mscratch_, mepc_,
        mcause_,  mtval_,   mcounteren_, menvcfg_,    mcountinhibit_, stvec_,  sscratch_, sepc_,
        scause_,  stval_,   satp_,       scounteren_, senvcfg_,       tselect_}) {
    out.u64(v);
  }
  out.u64(mip_hw_.load());
  out.u64(static_cast<uint64_t>(cycle_offset_));
  out.u64(static_cast<uint64_t>(instret_offset_));
  out.u8(fflags_);
  out.u8(frm_);
  out.array(pmpcfg_);
  out.array(pmpaddr_);
  out.array(tdata1_);
  out.array(tdata2_);
  out.array(tdata3_);
  out.boolean(reservation_valid_);
  out.u64(reservation_value_);
  out.end_section();
}

Result<void> Hart::load(StateReader& in) {
  TRY(in.begin_section("riscv-hart", 1));
  uint32_t id = in.u32();
  if (!in.failed() && id != hart_id_) {
    return Error("saved state: hart " + std::to_string(id) + " loaded into hart " +
                 std::to_string(hart_id_));
  }
  for (unsigned i = 0; i < 32; ++i) x_[i] = in.u64();
  in.array(f_);
  pc_ = in.u64();
  uint8_t priv = in.u8();
  if (priv == 2 || priv > 3) return Error("saved state: invalid hart privilege level");
  priv_ = static_cast<Priv>(priv);
  instret_ = in.u64();
  waiting_ = in.boolean();
  for (uint64_t* v : {&mstatus_,       &medeleg_,    &mideleg_,  &mie_,    &mip_sw_,     &mtvec_,
                      &mscratch_,      &mepc_,       &mcause_,   &mtval_,  &mcounteren_, &menvcfg_,
                      &mcountinhibit_, &stvec_,      &sscratch_, &sepc_,   &scause_,     &stval_,
                      &satp_,          &scounteren_, &senvcfg_,  &tselect_}) {
    *v = in.u64();
  }
  mip_hw_.store(in.u64());
  cycle_offset_ = static_cast<int64_t>(in.u64());
  instret_offset_ = static_cast<int64_t>(in.u64());
  fflags_ = in.u8() & 0x1f;
  frm_ = in.u8() & 7;
  in.array(pmpcfg_);
  in.array(pmpaddr_);
  in.array(tdata1_);
  in.array(tdata2_);
  in.array(tdata3_);
  reservation_valid_ = in.boolean();
  reservation_value_ = in.u64();
  // The reservation's host address is not portable: SC after restore fails,
  // which the ISA allows (an SC may always fail spuriously).
  reservation_valid_ = false;
  TRY(in.end_section());
  if (tselect_ >= kTriggers) tselect_ = 0;
  triggers_armed_ = false;
  for (uint64_t t : tdata1_) triggers_armed_ |= (t & kTriggerAccesses) != 0;
  x_[0] = 0;
  decode_pmp();
  flush_tlb();
  flush_blocks();
  attention_.store(true);
  return Ok();
}

}  // namespace vessel::cpu::riscv
