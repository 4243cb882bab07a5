// The seam between a hart and a translator of its code (the JIT layer, see
// jit/x86_compiler.h). The hart decodes blocks as it does for the
// interpreter and hands them over; the translator returns host code that
// runs the block on the hart's state with the same semantics as
// Hart::execute_block(). Without a compiler the hart only interprets.
#pragma once

#include <cstddef>
#include <cstdint>

#include "cpu/riscv/decoded_insn.h"

namespace vessel::cpu::riscv {

class Hart;

// Runs the translated `block` on `hart`, and the blocks it links to, at most
// `budget` instructions: a block starts only if the budget allows its whole
// length and nobody asks for the hart's attention. Returns the
// instructions attempted, as execute_block(). One entry for every block.
using EnterBlock = uint64_t (*)(Hart* hart, uint64_t budget, const void* block);

// A block exit to a fixed guest pc: once linked, the block jumps straight
// into the next block, without returning, while the link's epoch is the
// hart's (any FENCE.I unlinks every exit until the next block is found
// unchanged). An exit to another page also checks that the fetch TLB still
// maps the target's page to the physical page it was linked for.
struct ExitLink {
  uint64_t epoch = ~uint64_t{0};
  const void* block = nullptr;
  uint64_t target_pc = 0;  // fixed when the exit is emitted
  uint64_t target_ppn = 0;
};
struct ExitLinkLayout {
  static constexpr int32_t kEpoch = 0, kBlock = 8, kTargetPc = 16, kTargetPpn = 24, kSize = 32;
};
static_assert(offsetof(ExitLink, epoch) == ExitLinkLayout::kEpoch &&
              offsetof(ExitLink, block) == ExitLinkLayout::kBlock &&
              offsetof(ExitLink, target_pc) == ExitLinkLayout::kTargetPc &&
              offsetof(ExitLink, target_ppn) == ExitLinkLayout::kTargetPpn &&
              sizeof(ExitLink) == ExitLinkLayout::kSize);

// Where generated code finds the hart's state (byte offsets from the Hart)
// and the out-of-line work it calls. Every helper takes the Hart first;
// those returning bool return false when the instruction trapped (the trap
// is recorded, not taken: `take_trap` takes it).
struct HartLayout {
  int32_t x = 0;          // uint64_t[33]: x0..x31 and the sink for x0
  int32_t pc = 0;         // uint64_t
  int32_t instret = 0;    // uint64_t
  int32_t attention = 0;  // std::atomic<bool>: leave at the next chance
  int32_t f = 0;          // uint64_t[32]: f0..f31, singles NaN-boxed
  int32_t fflags = 0;     // uint8_t: NX NV... (unprivileged spec 13.2)
  int32_t frm = 0;        // uint8_t
  int32_t mstatus = 0;    // uint64_t: FS must not be off; FP writes set it dirty
  int32_t epoch = 0;      // uint64_t: see ExitLink
  int32_t last_exit = 0;  // const ExitLink*: the unlinked exit the block left by, or null
  int32_t recent = 0;     // const void*: the recent translations' table (RecentLayout)
  // Set while RAM writes are logged: stores then take the slow path.
  const void* dirty_log_enabled = nullptr;
  // Loads `size` bytes (sign-extended when `sign`) into x[rd] when rd < 32;
  // `access` = size | sign << 8 | rd << 16.
  bool (*load)(Hart*, uint64_t vaddr, uint32_t access) = nullptr;
  bool (*store)(Hart*, uint64_t vaddr, uint64_t value, uint32_t size) = nullptr;
  // Runs one instruction the translator does not handle itself, passed as
  // the two halves of its DecodedInsn; pc must be stored first.
  bool (*execute)(Hart*, uint64_t insn_low, uint64_t insn_high) = nullptr;
  void (*take_trap)(Hart*) = nullptr;
  // Fetches and runs the instruction at pc as the interpreter does (or
  // takes its trap); instret counts it.
  void (*step)(Hart*) = nullptr;
};

// One block to translate: `count` instructions at guest virtual `pc`, whose
// loads and stores hit the TLBs at these offsets from the Hart (the
// privilege they run with is fixed for the block: only instructions that end
// blocks change it).
struct BlockSource {
  const DecodedInsn* insns = nullptr;
  unsigned count = 0;
  uint64_t pc = 0;
  int32_t load_tlb = 0;   // TlbEntry[TlbEntryLayout::kEntries] for loads
  int32_t store_tlb = 0;  // TlbEntry[TlbEntryLayout::kEntries] for stores
  // Indirect jumps find their target themselves, if it ran recently: the
  // fetch TLB gives its physical address, the hart's table of recent
  // translations (HartLayout::recent) its code, for this mode.
  int32_t fetch_tlb = 0;
  uint8_t mode = 0;
  // A block of one instruction that straddles two pages: it runs as
  // translated while the fetch TLB maps the next page to second_half_ppn and
  // the second half still reads second_half; else through `step`.
  bool straddles = false;
  uint64_t second_half_ppn = 0;
  uint16_t second_half = 0;
};

// Translation costs about as much as interpreting a block a few hundred
// times; most code a boot runs, runs only a few times. So a block is
// interpreted until it has run this often.
constexpr unsigned kDefaultHotRuns = 16;

// A TLB entry as generated code reads it (Hart::TlbEntry has this layout).
struct TlbEntryLayout {
  static constexpr int32_t kVpn = 0, kAddend = 8, kPpn = 16, kSize = 24;
  static constexpr unsigned kEntries = 1024;
};

class BlockCompiler {
 public:
  virtual ~BlockCompiler() = default;
  // Host code for `source`, run through entry(); null when the code cache
  // is full (the hart then calls flush() and asks again) or the block cannot
  // be translated.
  virtual const void* compile(const BlockSource& source) = 0;
  // How every block is entered; the same for the compiler's whole life.
  virtual EnterBlock entry() const = 0;
  // Sets an exit's link (exits live in the code cache, written through its
  // writable view).
  virtual void link(const ExitLink* exit, const ExitLink& value) = 0;
  // Forgets every block: none of them runs again. Never called while
  // generated code is on the stack.
  virtual void flush() = 0;
};

}  // namespace vessel::cpu::riscv
