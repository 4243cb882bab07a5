// Address translation (priv spec 4.3-4.5: Sv39, Sv48), physical memory
// protection (priv spec 3.7) and the slow memory path.
#include <algorithm>
#include <atomic>

#include "cpu/riscv/csr_numbers.h"
#include "cpu/riscv/hart.h"
#include "cpu/riscv/memory_access.h"

namespace vessel::cpu::riscv {

using namespace csr;

namespace {

constexpr uint64_t kPteV = 1 << 0, kPteR = 1 << 1, kPteW = 1 << 2, kPteX = 1 << 3, kPteU = 1 << 4,
                   kPteA = 1 << 6, kPteD = 1 << 7;
constexpr uint64_t kPpnMask = (uint64_t{1} << 44) - 1;

uint64_t page_fault_cause(unsigned access) {
  static constexpr uint64_t kCauses[] = {kInstructionPageFault, kLoadPageFault, kStorePageFault};
  return kCauses[access];
}
uint64_t access_fault_cause(unsigned access) {
  static constexpr uint64_t kCauses[] = {kInstructionAccessFault, kLoadAccessFault,
                                         kStoreAccessFault};
  return kCauses[access];
}

}  // namespace

void Hart::flush_store_tlb() {
  for (auto& per_view : tlb_) {
    for (TlbEntry& e : per_view[static_cast<unsigned>(Access::kStore)]) e.vpn = ~uint64_t{0};
  }
}

void Hart::flush_tlb() {
  for (auto& per_priv : tlb_) {
    for (auto& per_access : per_priv) {
      for (TlbEntry& e : per_access) e.vpn = ~uint64_t{0};
    }
  }
  superpages_ = {~uint64_t{0}, 0};
}

void Hart::flush_tlb_page(uint64_t vaddr) {
  // The TLB holds 4 KiB pieces of superpages under their own page numbers:
  // an address a superpage may have mapped flushes everything.
  if (vaddr >= superpages_.first && vaddr <= superpages_.last) return flush_tlb();
  const uint64_t vpn = vaddr >> memory::kPageShift;
  for (auto& per_priv : tlb_) {
    for (auto& per_access : per_priv) {
      TlbEntry& e = per_access[vpn % kTlbSize];
      if (e.vpn == vpn) e.vpn = ~uint64_t{0};
    }
  }
}

void Hart::decode_pmp() {
  pmp_count_ = 0;
  for (unsigned i = 0; i < kPmpEntries; ++i) {
    const uint8_t cfg = pmpcfg_[i];
    PmpRange range{0, 0, cfg};
    switch ((cfg >> 3) & 3) {
      case 0:
        continue;  // OFF
      case 1:      // TOR
        range.lo = i == 0 ? 0 : pmpaddr_[i - 1] << 2;
        range.hi = pmpaddr_[i] << 2;
        break;
      case 2:  // NA4
        range.lo = pmpaddr_[i] << 2;
        range.hi = range.lo + 4;
        break;
      case 3: {  // NAPOT: trailing ones encode the size
        unsigned ones = static_cast<unsigned>(__builtin_ctzll(~pmpaddr_[i]));
        if (ones >= 54) {
          range.hi = ~uint64_t{0};
        } else {
          range.lo = (pmpaddr_[i] & ~((uint64_t{1} << ones) - 1)) << 2;
          range.hi = range.lo + (uint64_t{8} << ones);
        }
        break;
      }
    }
    pmp_ranges_[pmp_count_++] = range;
  }
}

bool Hart::pmp_allows(uint64_t paddr, uint64_t size, Access access, Priv mode) const {
  const uint64_t end = paddr + size;
  for (unsigned i = 0; i < pmp_count_; ++i) {
    const PmpRange& range = pmp_ranges_[i];
    if (!(paddr < range.hi && end > range.lo)) continue;
    // An entry matching only part of the access makes it fail.
    if (paddr < range.lo || end > range.hi) return false;
    if (mode == Priv::kMachine && !(range.cfg & 0x80)) return true;
    static constexpr uint8_t kPermission[] = {4 /* X */, 1 /* R */, 2 /* W */};
    return range.cfg & kPermission[static_cast<unsigned>(access)];
  }
  // No entry matches: M-mode may, the others may not (entries are implemented).
  return mode == Priv::kMachine;
}

bool Hart::walk_page_table(uint64_t vaddr, Access access, Priv mode, uint64_t& paddr) {
  const unsigned a = static_cast<unsigned>(access);
  const unsigned levels = (satp_ >> 60) == 9 ? 4 : 3;
  const unsigned va_bits = 12 + 9 * levels;
  // Virtual addresses must be sign-extended from the top translated bit.
  uint64_t canonical =
      static_cast<uint64_t>(static_cast<int64_t>(vaddr << (64 - va_bits)) >> (64 - va_bits));
  if (canonical != vaddr) return raise(page_fault_cause(a), vaddr);

  uint64_t table = (satp_ & kPpnMask) << 12;
  for (int level = static_cast<int>(levels) - 1; level >= 0; --level) {
    uint64_t pte_addr = table + ((vaddr >> (12 + 9 * level)) & 0x1ff) * 8;
    uint8_t* host = bus_.ram_ptr(pte_addr, 8);
    if (!host || !pmp_allows(pte_addr, 8, Access::kLoad, Priv::kSupervisor)) {
      return raise(access_fault_cause(a), vaddr);
    }
    std::atomic_ref<uint64_t> pte_ref(*reinterpret_cast<uint64_t*>(host));
    uint64_t pte = pte_ref.load(std::memory_order_acquire);
    for (;;) {
      // Bits 63:54 (PBMT, N and reserved) are not implemented: must be zero.
      if (!(pte & kPteV) || (!(pte & kPteR) && (pte & kPteW)) || (pte >> 54) != 0) {
        return raise(page_fault_cause(a), vaddr);
      }
      if (!(pte & (kPteR | kPteX))) {  // pointer to the next level
        if (level == 0 || (pte & (kPteA | kPteD | kPteU))) return raise(page_fault_cause(a), vaddr);
        table = ((pte >> 10) & kPpnMask) << 12;
        break;
      }
      // Leaf: privilege and permission checks (priv spec 4.3.2 step 5).
      bool user_page = pte & kPteU;
      if (mode == Priv::kUser && !user_page) return raise(page_fault_cause(a), vaddr);
      if (mode == Priv::kSupervisor && user_page &&
          (access == Access::kFetch || !(mstatus_ & mstatus::kSum))) {
        return raise(page_fault_cause(a), vaddr);
      }
      bool permitted = false;
      switch (access) {
        case Access::kFetch:
          permitted = pte & kPteX;
          break;
        case Access::kLoad:
          permitted = (pte & kPteR) || ((mstatus_ & mstatus::kMxr) && (pte & kPteX));
          break;
        case Access::kStore:
          permitted = pte & kPteW;
          break;
      }
      if (!permitted) return raise(page_fault_cause(a), vaddr);
      uint64_t ppn = (pte >> 10) & kPpnMask;
      uint64_t superpage_mask = (uint64_t{1} << (9 * level)) - 1;
      if (ppn & superpage_mask) return raise(page_fault_cause(a), vaddr);  // misaligned superpage
      // A and D are updated by the hardware, atomically, as QEMU's virt CPU does.
      uint64_t needed = kPteA | (access == Access::kStore ? kPteD : 0);
      if ((pte & needed) != needed) {
        if (!pmp_allows(pte_addr, 8, Access::kStore, Priv::kSupervisor)) {
          return raise(access_fault_cause(a), vaddr);
        }
        if (!pte_ref.compare_exchange_strong(pte, pte | needed)) continue;  // re-check new PTE
        bus_.mark_dirty(pte_addr, 8);
      }
      uint64_t offset_mask = (uint64_t{1} << (12 + 9 * level)) - 1;
      paddr = ((ppn << 12) & ~offset_mask) | (vaddr & offset_mask);
      if (level > 0) {
        superpages_.first = std::min(superpages_.first, vaddr & ~offset_mask);
        superpages_.last = std::max(superpages_.last, vaddr | offset_mask);
      }
      return true;
    }
  }
  return raise(page_fault_cause(a), vaddr);
}

bool Hart::translate(uint64_t vaddr, Access access, Priv mode, uint64_t& paddr) {
  if (mode == Priv::kMachine || (satp_ >> 60) == 0) {
    paddr = vaddr;
    return true;
  }
  return walk_page_table(vaddr, access, mode, paddr);
}

void Hart::fill_tlb(uint64_t vaddr, uint64_t paddr, Access access, Priv mode) {
  if (triggers_armed_) return;  // every access must reach the trigger check
  uint64_t page = paddr & ~uint64_t{0xfff};
  uint8_t* host = bus_.ram_ptr(page, memory::kPageSize);
  if (!host || !pmp_allows(page, memory::kPageSize, access, mode)) return;
  uint64_t vpn = vaddr >> memory::kPageShift;
  // Stores into code go the slow way, which notices them.
  if (access == Access::kStore && bus_.code_pages().marked(bus_.ram_page(page))) return;
  TlbEntry& e = tlb_[tlb_view(mode, access)][static_cast<unsigned>(access)][vpn % kTlbSize];
  e.vpn = vpn;
  e.addend = reinterpret_cast<uintptr_t>(host) - (vaddr & ~uint64_t{0xfff});
  e.ppn = page >> memory::kPageShift;
}

bool Hart::load_slow(uint64_t vaddr, unsigned size, uint64_t& out) {
  if (triggers_armed_ && trigger_hit(vaddr, kTriggerLoad)) return raise(kBreakpoint, vaddr);
  Priv mode = data_privilege();
  if ((vaddr & 0xfff) + size > 0x1000) {  // misaligned across a page: byte by byte
    uint64_t value = 0;
    for (unsigned i = 0; i < size; ++i) {
      uint64_t byte;
      if (!load_slow(vaddr + i, 1, byte)) return false;
      value |= byte << (8 * i);
    }
    out = value;
    return true;
  }
  uint64_t paddr;
  if (!translate(vaddr, Access::kLoad, mode, paddr)) return false;
  if (!pmp_allows(paddr, size, Access::kLoad, mode)) return raise(kLoadAccessFault, vaddr);
  if (const uint8_t* p = bus_.ram_ptr(paddr, size)) {
    out = 0;
    std::memcpy(&out, p, size);
    fill_tlb(vaddr, paddr, Access::kLoad, mode);
    return true;
  }
  if ((paddr & (size - 1)) || !bus_.read(paddr, size, out)) return raise(kLoadAccessFault, vaddr);
  return true;
}

bool Hart::store_slow(uint64_t vaddr, unsigned size, uint64_t value) {
  if (triggers_armed_ && trigger_hit(vaddr, kTriggerStore)) return raise(kBreakpoint, vaddr);
  Priv mode = data_privilege();
  uint64_t paddr;
  if ((vaddr & 0xfff) + size > 0x1000) {
    // Check both pages before writing anything, so a fault leaves memory unchanged.
    uint64_t last = vaddr + size - 1;
    if (!translate(vaddr, Access::kStore, mode, paddr)) return false;
    if (!translate(last, Access::kStore, mode, paddr)) return false;
    for (unsigned i = 0; i < size; ++i) {
      if (!store_slow(vaddr + i, 1, value >> (8 * i))) return false;
    }
    return true;
  }
  if (!translate(vaddr, Access::kStore, mode, paddr)) return false;
  if (!pmp_allows(paddr, size, Access::kStore, mode)) return raise(kStoreAccessFault, vaddr);
  if (uint8_t* p = bus_.ram_ptr(paddr, size)) {
    std::memcpy(p, &value, size);
    bus_.cpu_wrote(paddr, size);
    fill_tlb(vaddr, paddr, Access::kStore, mode);
    return true;
  }
  if ((paddr & (size - 1)) || !bus_.write(paddr, size, value)) {
    return raise(kStoreAccessFault, vaddr);
  }
  return true;
}

uint8_t* Hart::atomic_address(uint64_t vaddr, unsigned size, Access access) {
  // Atomics must be naturally aligned and in RAM (no atomics on devices).
  if (vaddr & (size - 1)) {
    raise(access == Access::kLoad ? kLoadMisaligned : kStoreMisaligned, vaddr);
    return nullptr;
  }
  Priv mode = data_privilege();
  uint64_t paddr;
  if (!translate(vaddr, access, mode, paddr)) return nullptr;
  uint8_t* p = bus_.ram_ptr(paddr, size);
  if (!p || !pmp_allows(paddr, size, access, mode)) {
    raise(access == Access::kLoad ? kLoadAccessFault : kStoreAccessFault, vaddr);
    return nullptr;
  }
  if (access == Access::kStore) bus_.cpu_wrote(paddr, size);
  return p;
}

}  // namespace vessel::cpu::riscv
