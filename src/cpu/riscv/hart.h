// One RV64GC hardware thread: registers, CSRs, privilege levels, traps, the
// MMU and an interpreter loop. The hart reaches memory only through
// memory::AddressSpace and devices only through interrupt pins
// (set_interrupt_pending), so it knows nothing of the board around it.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>

#include "base/clock.h"
#include "base/result.h"
#include "base/state.h"
#include "cpu/riscv/block_compiler.h"
#include "cpu/riscv/csr_numbers.h"
#include "cpu/riscv/decoded_insn.h"
#include "cpu/riscv/translation_cache.h"
#include "memory/address_space.h"

namespace vessel::cpu::riscv {

enum class Priv : uint8_t { kUser = 0, kSupervisor = 1, kMachine = 3 };

// mip/mie bit numbers (priv spec 3.1.9).
enum InterruptBit : unsigned {
  kSsip = 1,
  kMsip = 3,
  kStip = 5,
  kMtip = 7,
  kSeip = 9,
  kMeip = 11,
};

enum class RunExit : uint8_t {
  kBudgetSpent,       // ran the requested number of instructions, or was kicked
  kWaitForInterrupt,  // executed WFI and nothing is pending: call wait_for_interrupt()
};

class Hart {
 public:
  Hart(memory::AddressSpace& bus, const GuestClock& clock, unsigned hart_id);
  ~Hart();
  Hart(const Hart&) = delete;
  Hart& operator=(const Hart&) = delete;

  // Power-on state: M-mode, registers zero, CSRs at reset values, pc = `pc`.
  void reset(uint64_t pc);

  unsigned id() const { return hart_id_; }
  uint64_t pc() const { return pc_; }
  void set_pc(uint64_t pc) { pc_ = pc; }
  uint64_t reg(unsigned index) const { return x_[index & 31]; }
  void set_reg(unsigned index, uint64_t value) {
    if ((index & 31) != 0) x_[index & 31] = value;
  }
  uint64_t freg(unsigned index) const { return f_[index & 31]; }
  Priv privilege() const { return priv_; }
  uint64_t instret() const { return instret_; }

  // Executes up to `budget` instructions on the calling (vCPU) thread.
  RunExit run(uint64_t budget);

  // Runs translated blocks from now on (the interpreter remains for what
  // the translator leaves out): each block once it has run `hot_runs`
  // times interpreted (0: at once). Only while run() is not running.
  void set_compiler(std::unique_ptr<BlockCompiler> compiler, unsigned hot_runs = kDefaultHotRuns);
  // What a BlockCompiler for this hart generates code against.
  HartLayout jit_layout();

  // Thread-safe interrupt pins driven by the interrupt controllers.
  void set_interrupt_pending(unsigned bit, bool level);
  // Thread-safe: make run() and wait_for_interrupt() return promptly.
  void kick();
  // Sleeps until an interrupt is pending and enabled in mie, kick() is
  // called, or the guest clock reaches `deadline()` (guest ticks, UINT64_MAX
  // for none). An idle guest therefore costs no host CPU.
  void wait_for_interrupt(const GuestClock& clock, const std::function<uint64_t()>& deadline);
  // Thread-safe: the deadline a sleeping hart waits for may have moved (its
  // mtimecmp or mtime was written): wait_for_interrupt() reads it again.
  void retime();
  // mie: which interrupts could end a WFI. Read it only while the hart's
  // thread is not running it (e.g. waiting in wait_for_interrupt()).
  uint64_t interrupt_enable() const { return mie_; }
  // The Sstc supervisor timer deadline (stimecmp) in guest ticks, or UINT64_MAX.
  uint64_t supervisor_timer_deadline() const;

  void save(StateWriter& out) const;
  Result<void> load(StateReader& in);

 private:
  enum class Access : uint8_t { kFetch = 0, kLoad = 1, kStore = 2 };

  // A TLB entry maps one guest-virtual 4 KiB page to host memory: host
  // address = vaddr + addend. Only RAM pages whose PMP check covers the whole
  // page are cached; everything else takes the slow path.
  struct TlbEntry {
    uint64_t vpn = ~uint64_t{0};
    uintptr_t addend = 0;
    uint64_t ppn = 0;
  };
  static constexpr unsigned kTlbSize = 1024;
  // Pre-decoded straight-line code, keyed by physical address. Like an
  // instruction cache it is refreshed by FENCE.I (unprivileged spec ch. 5),
  // which Linux and OpenSBI issue after writing code.
  static constexpr unsigned kBlockInsns = 64;
  static constexpr unsigned kBlocks = 2048;
  struct Block {
    uint64_t paddr = ~uint64_t{0};
    uint32_t count = 0;
    DecodedInsn insns[kBlockInsns];
  };
  static constexpr unsigned kPmpEntries = 16;
  static constexpr unsigned kTriggers = 2;

  // ---- interpreter (interpreter.cc) ----
  uint64_t execute_block(const DecodedInsn* insns, unsigned count, uint64_t budget);
  bool execute(const DecodedInsn& insn);
  bool execute_system(const DecodedInsn& insn);
  bool execute_atomic(const DecodedInsn& insn);
  bool execute_fp(uint32_t insn);
  bool fetch(uint32_t& insn, unsigned& length);
  const Block* cached_block();
  void flush_blocks();
  // Acts on stores into code and new code pages (memory::CodePages) of any hart.
  void notice_code_changes();
  bool fetch_uncached(DecodedInsn& out);

  // ---- translated blocks (compiled_blocks.cc) ----
  // The block at pc_ as host code, translated now if need be; nullptr when
  // it must be interpreted (not translatable, or longer than `budget`).
  const void* compiled_block(uint64_t budget);
  TranslationCache::Found translate(const TranslationCache::Key& key, unsigned data_view,
                                    const uint8_t* guest_code, const ExitLink*& exit);
  // The helpers generated code calls (see HartLayout).
  static bool jit_load(Hart* hart, uint64_t vaddr, uint32_t access);
  static bool jit_store(Hart* hart, uint64_t vaddr, uint64_t value, uint32_t size);
  static bool jit_execute(Hart* hart, uint64_t insn_low, uint64_t insn_high);
  static void jit_take_trap(Hart* hart);
  static void jit_step(Hart* hart);

  // ---- memory access (mmu.cc) ----
  template <typename T>
  bool load(uint64_t vaddr, T& out);
  template <typename T>
  bool store(uint64_t vaddr, T value);
  bool load_slow(uint64_t vaddr, unsigned size, uint64_t& out);
  bool store_slow(uint64_t vaddr, unsigned size, uint64_t value);
  // Physical address (and host pointer when in RAM) for an AMO / LR / SC.
  uint8_t* atomic_address(uint64_t vaddr, unsigned size, Access access);
  // Translates and checks one access that does not cross a page. On failure
  // raises the right exception and returns false.
  bool translate(uint64_t vaddr, Access access, Priv mode, uint64_t& paddr);
  bool walk_page_table(uint64_t vaddr, Access access, Priv mode, uint64_t& paddr);
  bool pmp_allows(uint64_t paddr, uint64_t size, Access access, Priv mode) const;
  void fill_tlb(uint64_t vaddr, uint64_t paddr, Access access, Priv mode);
  // Which of tlb_'s four views a `mode` access uses. S-mode loads and
  // stores with mstatus.SUM set get the otherwise unused index 2: their
  // entries may map user pages, so SUM flips (Linux's every copy to or
  // from user space) switch views instead of flushing the TLB.
  unsigned tlb_view(Priv mode, Access access) const {
    bool sum =
        mode == Priv::kSupervisor && access != Access::kFetch && (mstatus_ & csr::mstatus::kSum);
    return sum ? 2 : static_cast<unsigned>(mode);
  }
  // The fetch TLB's entry for the page of `pc` in the current privilege,
  // or null on a miss (the slow fetch path fills it).
  const TlbEntry* fetch_entry(uint64_t pc) const {
    const uint64_t vpn = pc >> memory::kPageShift;
    const TlbEntry& e =
        tlb_[static_cast<unsigned>(priv_)][static_cast<unsigned>(Access::kFetch)][vpn % kTlbSize];
    return e.vpn == vpn ? &e : nullptr;
  }
  void flush_tlb();
  // SFENCE.VMA with an address: only the entries that may map it.
  void flush_tlb_page(uint64_t vaddr);
  void decode_pmp();
  // Drops every store entry: a page became code (see memory::CodePages).
  void flush_store_tlb();
  Priv data_privilege() const;

  // ---- CSRs (csr.cc) ----
  bool csr_read(unsigned address, uint64_t& value);
  bool csr_write(unsigned address, uint64_t value);
  bool csr_accessible(unsigned address, bool writing) const;
  uint64_t read_mstatus() const;
  void write_mstatus(uint64_t value);
  uint64_t mip() const { return mip_hw_.load(std::memory_order_relaxed) | mip_sw_; }
  void write_pmpcfg(unsigned index, uint8_t value);
  uint64_t counter_value(unsigned address) const;
  static constexpr uint64_t kInhibitCycle = 1 << 0, kInhibitInstret = 1 << 2;  // mcountinhibit
  uint64_t counter(int64_t offset, uint64_t inhibit_bit) const;
  void write_counter(int64_t& offset, uint64_t inhibit_bit, uint64_t value, uint64_t retiring);
  void write_mcountinhibit(uint64_t value);
  void mark_fs_dirty() { mstatus_ |= kMstatusFsDirty; }

  // ---- debug triggers (trigger.cc) ----
  static constexpr uint64_t kTdata1Mcontrol = uint64_t{2} << 60;
  static constexpr uint64_t kTriggerM = 1 << 6, kTriggerS = 1 << 4, kTriggerU = 1 << 3;
  static constexpr uint64_t kTriggerExecute = 1 << 2, kTriggerStore = 1 << 1, kTriggerLoad = 1;
  static constexpr uint64_t kTriggerAccesses = kTriggerExecute | kTriggerStore | kTriggerLoad;
  void write_tdata1(uint64_t value);
  bool trigger_hit(uint64_t address, uint64_t access) const;

  // ---- traps (trap.cc) ----
  bool raise(uint64_t cause, uint64_t tval);  // always returns false
  void take_trap(uint64_t cause, uint64_t tval, bool interrupt);
  bool check_interrupts();
  void do_mret();
  void do_sret();
  void set_privilege(Priv priv);

  static constexpr uint64_t kMstatusFsDirty = uint64_t{3} << 13;

  memory::AddressSpace& bus_;
  const GuestClock& clock_;
  const unsigned hart_id_;

  uint64_t x_[33] = {};  // x0..x31, then the sink for writes to x0
  uint64_t f_[32] = {};
  uint64_t pc_ = 0;
  Priv priv_ = Priv::kMachine;
  uint64_t instret_ = 0;
  bool waiting_ = false;  // the last instruction was a WFI that must sleep

  // Pending exception raised by the instruction being executed.
  uint64_t trap_cause_ = 0;
  uint64_t trap_tval_ = 0;

  // Machine and supervisor CSRs (priv spec ch. 3 and 4).
  uint64_t mstatus_ = 0;
  uint64_t medeleg_ = 0, mideleg_ = 0, mie_ = 0;
  std::atomic<uint64_t> mip_hw_{0};  // driven by interrupt controllers
  uint64_t mip_sw_ = 0;              // SSIP, STIP, SEIP written by software
  uint64_t mtvec_ = 0, mscratch_ = 0, mepc_ = 0, mcause_ = 0, mtval_ = 0;
  uint64_t mcounteren_ = 0, menvcfg_ = 0, mcountinhibit_ = 0;
  uint64_t stvec_ = 0, sscratch_ = 0, sepc_ = 0, scause_ = 0, stval_ = 0, satp_ = 0;
  uint64_t scounteren_ = 0, senvcfg_ = 0;
  int64_t cycle_offset_ = 0, instret_offset_ = 0;  // see counter() in csr.cc
  uint8_t fflags_ = 0, frm_ = 0;
  uint8_t pmpcfg_[kPmpEntries] = {};
  uint64_t pmpaddr_[kPmpEntries] = {};
  // The entries not OFF, as [lo, hi) ranges in priority order: decoded
  // once per pmpcfg/pmpaddr write (decode_pmp()), not at every TLB fill.
  struct PmpRange {
    uint64_t lo = 0, hi = 0;
    uint8_t cfg = 0;
  };
  PmpRange pmp_ranges_[kPmpEntries];
  unsigned pmp_count_ = 0;
  uint64_t tselect_ = 0;
  uint64_t tdata1_[kTriggers] = {}, tdata2_[kTriggers] = {}, tdata3_[kTriggers] = {};
  bool triggers_armed_ = false;  // some trigger watches execute, load or store

  // LR/SC reservation: SC succeeds if the reserved word still holds the value
  // LR read, checked with a host compare-and-swap (correct across harts;
  // an intervening store of the same value goes unnoticed: see the SC in
  // execute_atomic()).
  bool reservation_valid_ = false;
  uint64_t reservation_paddr_ = 0;
  uint64_t reservation_value_ = 0;

  // TLBs indexed [view (tlb_view())][access][vpn % kTlbSize].
  TlbEntry tlb_[4][3][kTlbSize];
  // The virtual addresses superpages were translated for since the last
  // whole flush (first > last: none).
  struct {
    uint64_t first, last;
  } superpages_{~uint64_t{0}, 0};
  std::unique_ptr<Block[]> blocks_{new Block[kBlocks]};
  // What this hart last saw of the RAM's code pages (memory::CodePages).
  uint64_t code_generation_seen_ = 0;
  uint64_t code_marks_seen_ = 0;
  std::unique_ptr<BlockCompiler> compiler_;
  EnterBlock enter_ = nullptr;  // compiler_->entry()
  std::unique_ptr<TranslationCache> translations_;
  const void* recent_translations_ = nullptr;  // translations_->recent_table()
  uint64_t translation_epoch_ = 0;  // moved when code may have changed (FENCE.I, a store into code)
  const ExitLink* last_exit_ = nullptr;  // written by translated code
  // Handler addresses for execute_block(), by Op (filled on first use).
  void* dispatch_[static_cast<unsigned>(Op::kIllegal) + 1] = {};
  bool dispatch_ready_ = false;

  // Cross-thread signalling: interrupts, kick(), WFI sleep.
  std::atomic<bool> attention_{true};
  std::atomic<bool> kicked_{false};
  std::mutex wait_mutex_;
  std::condition_variable wait_cv_;
  bool retimed_ = false;  // guarded by wait_mutex_
};

}  // namespace vessel::cpu::riscv
