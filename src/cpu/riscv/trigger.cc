// Debug triggers as QEMU's virt CPU has them (RISC-V debug spec 0.13,
// 5.2.9 "Match Control"): tselect picks one of kTriggers type-2 (mcontrol)
// triggers; tdata2 holds the address. Supported: exact address match on
// execute, load or store, in any of M/S/U, raising a breakpoint exception
// before the access (timing = 0, action = 0). While any trigger is armed,
// the hart runs instruction by instruction and every data access takes the
// slow path, so the hot paths carry no trigger checks.
#include "cpu/riscv/csr_numbers.h"
#include "cpu/riscv/hart.h"

namespace vessel::cpu::riscv {

void Hart::write_tdata1(uint64_t value) {
  // Fields other than the mode and access enables are WARL 0: select,
  // timing, action, chain and match keep their only supported value.
  constexpr uint64_t kWritable = kTriggerM | kTriggerS | kTriggerU | kTriggerAccesses;
  tdata1_[tselect_] = kTdata1Mcontrol | (value & kWritable);
  triggers_armed_ = false;
  for (uint64_t t : tdata1_) triggers_armed_ |= (t & kTriggerAccesses) != 0;
  flush_tlb();
}

bool Hart::trigger_hit(uint64_t address, uint64_t access) const {
  static constexpr uint64_t kModeBit[] = {kTriggerU, kTriggerS, 0, kTriggerM};
  uint64_t mode = kModeBit[static_cast<unsigned>(priv_)];
  for (unsigned i = 0; i < kTriggers; ++i) {
    if ((tdata1_[i] & access) && (tdata1_[i] & mode) && tdata2_[i] == address) return true;
  }
  return false;
}

}  // namespace vessel::cpu::riscv
