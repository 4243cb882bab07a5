// The memory fast path, inlined into the interpreter: a hit in the per-hart
// TLB is one compare and one host load or store. Everything else (misses,
// page crossings, MMIO, faults) goes to the slow path in mmu.cc.
#pragma once

#include <cstring>

#include "cpu/riscv/hart.h"

namespace vessel::cpu::riscv {

inline Priv Hart::data_privilege() const {
  // priv spec 3.1.6.3: with MPRV set, M-mode loads and stores use MPP's privilege.
  if (priv_ == Priv::kMachine && (mstatus_ & (1 << 17))) {
    return static_cast<Priv>((mstatus_ >> 11) & 3);
  }
  return priv_;
}

template <typename T>
inline bool Hart::load(uint64_t vaddr, T& out) {
  uint64_t vpn = vaddr >> memory::kPageShift;
  const TlbEntry& e = tlb_[tlb_view(data_privilege(), Access::kLoad)]
                          [static_cast<unsigned>(Access::kLoad)][vpn % kTlbSize];
  if (e.vpn == vpn && (vaddr & 0xfff) <= 0x1000 - sizeof(T)) [[likely]] {
    std::memcpy(&out, reinterpret_cast<const void*>(vaddr + e.addend), sizeof(T));
    return true;
  }
  uint64_t value;
  if (!load_slow(vaddr, sizeof(T), value)) return false;
  std::memcpy(&out, &value, sizeof(T));
  return true;
}

template <typename T>
inline bool Hart::store(uint64_t vaddr, T value) {
  uint64_t vpn = vaddr >> memory::kPageShift;
  const TlbEntry& e = tlb_[tlb_view(data_privilege(), Access::kStore)]
                          [static_cast<unsigned>(Access::kStore)][vpn % kTlbSize];
  if (e.vpn == vpn && (vaddr & 0xfff) <= 0x1000 - sizeof(T)) [[likely]] {
    std::memcpy(reinterpret_cast<void*>(vaddr + e.addend), &value, sizeof(T));
    if (bus_.dirty_log().enabled()) [[unlikely]] {
      bus_.mark_dirty((e.ppn << memory::kPageShift) | (vaddr & 0xfff), sizeof(T));
    }
    return true;
  }
  return store_slow(vaddr, sizeof(T), static_cast<uint64_t>(value));
}

}  // namespace vessel::cpu::riscv
