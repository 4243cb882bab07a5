// The interpreter: fetch, expand compressed, decode through the ISA table,
// execute (unprivileged spec ch. 2, 4, 7, 8; priv spec 3.3 for SYSTEM).
#include <algorithm>
#include <atomic>
#include <thread>

#include "cpu/riscv/compressed.h"
#include "cpu/riscv/csr_numbers.h"
#include "cpu/riscv/fpu.h"
#include "cpu/riscv/hart.h"
#include "cpu/riscv/int_arith.h"
#include "cpu/riscv/memory_access.h"

namespace vessel::cpu::riscv {

using namespace csr;

namespace {

constexpr uint32_t kPause = 0x0100000f;  // fence w, 0 (unprivileged spec ch. 10)

int64_t sext32(uint64_t v) {
  return static_cast<int32_t>(static_cast<uint32_t>(v));
}
uint64_t u(int64_t v) {
  return static_cast<uint64_t>(v);
}
int64_t s(uint64_t v) {
  return static_cast<int64_t>(v);
}

}  // namespace

bool Hart::fetch(uint32_t& insn, unsigned& length) {
  uint64_t pc = pc_;
  const TlbEntry* e = fetch_entry(pc);
  if (e && (pc & 0xfff) <= 0xffc) [[likely]] {
    std::memcpy(&insn, reinterpret_cast<const void*>(pc + e->addend), 4);
    length = (insn & 3) == 3 ? 4 : 2;
    if (length == 2) insn &= 0xffff;
    return true;
  }
  // Slow path: each 16-bit parcel separately, since a 32-bit instruction may
  // straddle two pages (the fault then names the second parcel's address).
  uint16_t parcel[2];
  for (unsigned i = 0; i < 2; ++i) {
    uint64_t va = pc + 2 * i, pa;
    if (!translate(va, Access::kFetch, priv_, pa)) return false;
    const uint8_t* host = bus_.ram_ptr(pa, 2);
    if (!host || !pmp_allows(pa, 2, Access::kFetch, priv_)) {
      return raise(kInstructionAccessFault, va);
    }
    std::memcpy(&parcel[i], host, 2);
    fill_tlb(va, pa, Access::kFetch, priv_);
    if (i == 0 && (parcel[0] & 3) != 3) {
      insn = parcel[0];
      length = 2;
      return true;
    }
  }
  insn = parcel[0] | uint32_t{parcel[1]} << 16;
  length = 4;
  return true;
}

const Hart::Block* Hart::cached_block() {
  const uint64_t pc = pc_;
  const TlbEntry* e = fetch_entry(pc);
  if (!e) return nullptr;  // the slow fetch path fills the TLB
  const uint64_t paddr = (e->ppn << memory::kPageShift) | (pc & 0xfff);
  Block& block = blocks_[((paddr >> 1) ^ (paddr >> 13)) % kBlocks];
  if (block.paddr == paddr) [[likely]]
    return &block;
  // Code is decoded from this page: its stores must be noticed from now on.
  if (bus_.code_pages().mark(bus_.ram_page(paddr))) flush_store_tlb();

  // Decode a new block: straight-line code up to an instruction that ends
  // blocks, the block size, or the end of the page.
  const auto* page = reinterpret_cast<const uint8_t*>((pc & ~uint64_t{0xfff}) + e->addend);
  uint64_t offset = pc & 0xfff;
  unsigned count = 0;
  while (count < kBlockInsns && offset + 2 <= memory::kPageSize) {
    uint16_t low;
    std::memcpy(&low, page + offset, 2);
    unsigned length = (low & 3) == 3 ? 4 : 2;
    if (offset + length > memory::kPageSize) break;  // straddles pages: slow path
    uint32_t raw = low;
    if (length == 4) std::memcpy(&raw, page + offset, 4);
    block.insns[count] = decode_insn(raw, length);
    block.insns[count++].offset = static_cast<uint16_t>(offset - (pc & 0xfff));
    offset += length;
    if (block_end(block.insns[count - 1]) == BlockEnd::kEndsBlock) break;
  }
  if (count == 0) return nullptr;
  block.paddr = paddr;
  block.count = count;
  return &block;
}

void Hart::notice_code_changes() {
  const memory::CodePages& code = bus_.code_pages();
  if (const uint64_t generation = code.generation(); generation != code_generation_seen_) {
    code_generation_seen_ = generation;
    flush_blocks();  // some hart stored into code: decode and verify again
  }
  if (const uint64_t marks = code.marks(); marks != code_marks_seen_) {
    code_marks_seen_ = marks;
    flush_store_tlb();  // some hart decoded code from a new page
  }
}

void Hart::flush_blocks() {
  for (unsigned i = 0; i < kBlocks; ++i) blocks_[i].paddr = ~uint64_t{0};
  ++translation_epoch_;  // translations are checked again before their next use
}

bool Hart::fetch_uncached(DecodedInsn& out) {
  if (triggers_armed_ && trigger_hit(pc_, kTriggerExecute)) return raise(kBreakpoint, pc_);
  uint32_t raw = 0;
  unsigned length = 0;
  if (!fetch(raw, length)) return false;
  out = decode_insn(raw, length);
  return true;
}

RunExit Hart::run(uint64_t budget) {
  uint64_t executed = 0;
  last_exit_ = nullptr;  // links only blocks that follow each other in one run
  while (executed < budget) {
    if (attention_.load(std::memory_order_relaxed)) [[unlikely]] {
      attention_.store(false, std::memory_order_relaxed);
      last_exit_ = nullptr;  // an interrupt may come between the blocks
      notice_code_changes();
      if (kicked_.exchange(false, std::memory_order_acq_rel)) return RunExit::kBudgetSpent;
      check_interrupts();
    }
    if (compiler_ && !triggers_armed_) [[likely]] {
      if (const void* block = compiled_block(budget - executed)) [[likely]] {
        executed += enter_(this, budget - executed, block);
        if (waiting_) [[unlikely]] {
          waiting_ = false;
          return RunExit::kWaitForInterrupt;
        }
        continue;
      }
    }
    const Block* block = triggers_armed_ ? nullptr : cached_block();
    if (block) [[likely]] {
      // run(n) executes exactly n instructions: a block may be cut short.
      executed += execute_block(
          block->insns, static_cast<unsigned>(std::min<uint64_t>(block->count, budget - executed)),
          budget - executed);
    } else {
      DecodedInsn single;
      if (fetch_uncached(single)) {
        executed += execute_block(&single, 1, 1);
      } else {
        take_trap(trap_cause_, trap_tval_, false);
        ++executed;
      }
    }
    if (waiting_) [[unlikely]] {
      waiting_ = false;
      return RunExit::kWaitForInterrupt;
    }
  }
  return RunExit::kBudgetSpent;
}

// The hot instructions run here, in threaded code: each handler ends with
// its own indirect jump to the next instruction's handler, which the host's
// branch predictor learns per handler (a single switch would mispredict on
// almost every guest instruction). Everything else goes through execute().
// Returns the number of instructions attempted: all of them, or up to and
// including the one that trapped (whose trap has then been taken).
uint64_t Hart::execute_block(const DecodedInsn* insns, unsigned count, uint64_t budget) {
  if (!dispatch_ready_) [[unlikely]] {
    for (auto& handler : dispatch_) handler = &&generic;
#define VESSEL_HANDLER(op) dispatch_[static_cast<unsigned>(Op::op)] = &&h_##op;
    VESSEL_HOT_OPS(VESSEL_HANDLER)
#undef VESSEL_HANDLER
    dispatch_ready_ = true;
  }
  const DecodedInsn* di = insns;
  const DecodedInsn* const end = insns + count;
  // No per-instruction bookkeeping: an instruction's address is the block's
  // start plus its decoded offset, and the retired count follows from the
  // position in the block. Both are written back to pc_ and instret_ at every
  // exit and before execute(), which may read them.
  const uint64_t base = pc_;
  const DecodedInsn* counted = insns;  // instructions before it are in instret_
  uint64_t earlier_passes = 0;         // instructions run by earlier passes of a loop
  auto retire_up_to = [&](const DecodedInsn* p) {
    instret_ += static_cast<uint64_t>(p - counted);
    counted = p;
  };
  uint64_t a, b, imm;

#define PC (base + di->offset)
#define DISPATCH()                                  \
  do {                                              \
    a = x_[di->rs1];                                \
    b = x_[di->rs2];                                \
    imm = u(di->imm);                               \
    goto* dispatch_[static_cast<unsigned>(di->op)]; \
  } while (0)
#define NEXT()                  \
  do {                          \
    if (++di == end) goto done; \
    DISPATCH();                 \
  } while (0)
#define ALU(op, expr)           \
  h_##op : x_[di->rd] = (expr); \
  NEXT();
#define LOAD(op, type)                           \
  h_##op : {                                     \
    type value;                                  \
    if (!load(a + imm, value)) [[unlikely]]      \
      goto trap;                                 \
    x_[di->rd] = u(static_cast<int64_t>(value)); \
    NEXT();                                      \
  }
#define STORE(op, type)                                                       \
  h_##op : if (!store(a + imm, static_cast<type>(b))) [[unlikely]] goto trap; \
  NEXT();
#define BRANCH(op, cond)                                                               \
  h_##op : if (cond) {                                                                 \
    const uint64_t target = PC + imm;                                                  \
    const uint64_t attempted = earlier_passes + static_cast<uint64_t>(di - insns) + 1; \
    retire_up_to(di + 1);                                                              \
    /* A loop whose body is this block runs again without leaving it. */               \
    if (target == base && attempted + count <= budget &&                               \
        !attention_.load(std::memory_order_relaxed)) {                                 \
      earlier_passes = attempted;                                                      \
      di = counted = insns;                                                            \
      DISPATCH();                                                                      \
    }                                                                                  \
    pc_ = target;                                                                      \
    return attempted;                                                                  \
  }                                                                                    \
  NEXT();

  DISPATCH();

  ALU(kLui, imm)
  ALU(kAuipc, PC + imm)
  ALU(kAddi, a + imm)
  ALU(kSlti, s(a) < s(imm))
  ALU(kSltiu, a < imm)
  ALU(kXori, a ^ imm)
  ALU(kOri, a | imm)
  ALU(kAndi, a & imm)
  ALU(kSlli, a << (imm & 63))
  ALU(kSrli, a >> (imm & 63))
  ALU(kSrai, u(s(a) >> (imm & 63)))
  ALU(kAdd, a + b)
  ALU(kSub, a - b)
  ALU(kSll, a << (b & 63))
  ALU(kSlt, s(a) < s(b))
  ALU(kSltu, a < b)
  ALU(kXor, a ^ b)
  ALU(kSrl, a >> (b & 63))
  ALU(kSra, u(s(a) >> (b & 63)))
  ALU(kOr, a | b)
  ALU(kAnd, a & b)
  ALU(kAddiw, u(sext32(a + imm)))
  ALU(kSlliw, u(sext32(a << (imm & 31))))
  ALU(kSrliw, u(sext32(static_cast<uint32_t>(a) >> (imm & 31))))
  ALU(kSraiw, u(static_cast<int32_t>(a) >> (imm & 31)))
  ALU(kAddw, u(sext32(a + b)))
  ALU(kSubw, u(sext32(a - b)))
  ALU(kSllw, u(sext32(a << (b & 31))))
  ALU(kSrlw, u(sext32(static_cast<uint32_t>(a) >> (b & 31))))
  ALU(kSraw, u(static_cast<int32_t>(a) >> (b & 31)))
  ALU(kMul, a * b)
  ALU(kMulh, mulh(s(a), s(b)))
  ALU(kMulhsu, mulhsu(s(a), b))
  ALU(kMulhu, mulhu(a, b))
  ALU(kDiv, u(div_signed(s(a), s(b))))
  ALU(kDivu, div_unsigned(a, b))
  ALU(kRem, u(rem_signed(s(a), s(b))))
  ALU(kRemu, rem_unsigned(a, b))
  ALU(kMulw, u(sext32(a * b)))
  ALU(kDivw, u(div_signed32(static_cast<int32_t>(a), static_cast<int32_t>(b))))
  ALU(kDivuw, u(sext32(div_unsigned32(static_cast<uint32_t>(a), static_cast<uint32_t>(b)))))
  ALU(kRemw, u(rem_signed32(static_cast<int32_t>(a), static_cast<int32_t>(b))))
  ALU(kRemuw, u(sext32(rem_unsigned32(static_cast<uint32_t>(a), static_cast<uint32_t>(b)))))
  LOAD(kLb, int8_t)
  LOAD(kLh, int16_t)
  LOAD(kLw, int32_t)
  LOAD(kLd, uint64_t)
  LOAD(kLbu, uint8_t)
  LOAD(kLhu, uint16_t)
  LOAD(kLwu, uint32_t)
  STORE(kSb, uint8_t)
  STORE(kSh, uint16_t)
  STORE(kSw, uint32_t)
  STORE(kSd, uint64_t)
  BRANCH(kBeq, a == b)
  BRANCH(kBne, a != b)
  BRANCH(kBlt, s(a) < s(b))
  BRANCH(kBge, s(a) >= s(b))
  BRANCH(kBltu, a < b)
  BRANCH(kBgeu, a >= b)
h_kJal:  // jumps end blocks
  x_[di->rd] = PC + di->length;
  pc_ = PC + imm;
  retire_up_to(di + 1);
  return earlier_passes + static_cast<uint64_t>(di - insns) + 1;
h_kJalr:
  x_[di->rd] = PC + di->length;
  pc_ = (a + imm) & ~uint64_t{1};
  retire_up_to(di + 1);
  return earlier_passes + static_cast<uint64_t>(di - insns) + 1;
generic:
  retire_up_to(di);
  pc_ = PC;
  if (!execute(*di)) [[unlikely]] {
    take_trap(trap_cause_, trap_tval_, false);
    return earlier_passes + static_cast<uint64_t>(di - insns) + 1;
  }
  retire_up_to(di + 1);
  // execute() has set pc_; instructions that may jump or change state end the block.
  if (block_end(*di) == BlockEnd::kEndsBlock)
    return earlier_passes + static_cast<uint64_t>(di - insns) + 1;
  NEXT();
trap:
  retire_up_to(di);
  pc_ = PC;
  take_trap(trap_cause_, trap_tval_, false);
  return earlier_passes + static_cast<uint64_t>(di - insns) + 1;
done:
  pc_ = base + end[-1].offset + end[-1].length;
  retire_up_to(end);
  return earlier_passes + count;

#undef PC
#undef DISPATCH
#undef NEXT
#undef ALU
#undef LOAD
#undef STORE
#undef BRANCH
}

// The instructions that execute_block() does not handle itself.
bool Hart::execute(const DecodedInsn& di) {
  const Op op = di.op;
  const unsigned d = di.rd;
  const uint64_t a = x_[di.rs1];
  const uint64_t imm = u(di.imm);

  switch (op) {
    case Op::kFence:
      if (di.raw == kPause) {
        // Zihintpause: the guest is spinning, waiting for another hart. When
        // harts outnumber host cores, the one it waits for may need this
        // host core to make progress.
        std::this_thread::yield();
        break;
      }
      // Guest fences order memory between harts running on host threads.
      std::atomic_thread_fence(std::memory_order_seq_cst);
      break;
    case Op::kFenceI:
      // Decoded blocks are this hart's instruction cache (unprivileged spec ch. 5).
      flush_blocks();
      break;
    case Op::kLrW:
    case Op::kScW:
    case Op::kAmoW:
    case Op::kLrD:
    case Op::kScD:
    case Op::kAmoD:
      if (!execute_atomic(di)) return false;
      break;
    case Op::kFlw:
    case Op::kFld:
    case Op::kFsw:
    case Op::kFsd: {
      if ((mstatus_ & mstatus::kFs) == 0) return raise(kIllegalInstruction, di.raw);
      bool ok = true;
      if (op == Op::kFlw) {
        uint32_t v;
        ok = load(a + imm, v);
        if (ok) f_[d] = 0xffffffff00000000 | v;
      } else if (op == Op::kFld) {
        ok = load(a + imm, f_[d]);
      } else if (op == Op::kFsw) {
        ok = store(a + imm, static_cast<uint32_t>(f_[di.rs2]));
      } else {
        ok = store(a + imm, f_[di.rs2]);
      }
      if (!ok) return false;
      if (op == Op::kFlw || op == Op::kFld) mark_fs_dirty();
      break;
    }
    case Op::kFpOp:
    case Op::kFmadd:
    case Op::kFmsub:
    case Op::kFnmsub:
    case Op::kFnmadd:
      if (!execute_fp(di.raw)) return raise(kIllegalInstruction, di.raw);
      break;
    case Op::kEcall:
    case Op::kEbreak:
    case Op::kSret:
    case Op::kMret:
    case Op::kWfi:
    case Op::kSfenceVma:
    case Op::kCsrrw:
    case Op::kCsrrs:
    case Op::kCsrrc:
    case Op::kCsrrwi:
    case Op::kCsrrsi:
    case Op::kCsrrci:
      if (!execute_system(di)) {
        if (trap_cause_ == kIllegalInstruction) trap_tval_ = di.raw;
        return false;
      }
      return true;  // execute_system sets pc
    default:        // kIllegal; the hot instructions never come here
      return raise(kIllegalInstruction, di.raw);
  }
  pc_ += di.length;
  return true;
}

bool Hart::execute_atomic(const DecodedInsn& di) {
  const Op op = di.op;
  const bool is_word = op == Op::kLrW || op == Op::kScW || op == Op::kAmoW;
  const unsigned size = is_word ? 4 : 8;
  const unsigned d = di.rd;
  const uint64_t addr = x_[di.rs1];
  const uint64_t src = x_[di.rs2];

  if (op == Op::kLrW || op == Op::kLrD) {
    uint8_t* p = atomic_address(addr, size, Access::kLoad);
    if (!p) return false;
    uint64_t value = is_word ? u(std::atomic_ref<int32_t>(*reinterpret_cast<int32_t*>(p)).load())
                             : std::atomic_ref<uint64_t>(*reinterpret_cast<uint64_t*>(p)).load();
    reservation_valid_ = true;
    reservation_paddr_ = reinterpret_cast<uintptr_t>(p);
    reservation_value_ = value;
    x_[d] = value;
    return true;
  }
  uint8_t* p = atomic_address(addr, size, Access::kStore);
  if (!p) return false;
  if (op == Op::kScW || op == Op::kScD) {
    // SC succeeds when memory still holds the value LR read: a host
    // compare-and-swap, as QEMU's TCG does it. Known and accepted: a store
    // of that same value by another hart between the LR and the SC (an ABA
    // pattern) goes unnoticed and the SC succeeds, where hardware would
    // have lost the reservation. Compare-and-swap, locks and counters
    // built on LR/SC stay correct (Linux's cmpxchg and spinlocks are such);
    // only code that relies on LR/SC being ABA-safe (say, a lock-free stack
    // popping its head without a tag) could see a difference.
    bool success = false;
    if (reservation_valid_ && reservation_paddr_ == reinterpret_cast<uintptr_t>(p)) {
      if (is_word) {
        int32_t expected = static_cast<int32_t>(reservation_value_);
        success = std::atomic_ref<int32_t>(*reinterpret_cast<int32_t*>(p))
                      .compare_exchange_strong(expected, static_cast<int32_t>(src));
      } else {
        uint64_t expected = reservation_value_;
        success = std::atomic_ref<uint64_t>(*reinterpret_cast<uint64_t*>(p))
                      .compare_exchange_strong(expected, src);
      }
    }
    reservation_valid_ = false;
    x_[d] = success ? 0 : 1;
    return true;
  }
  // AMOs: funct5 selects the operation (unprivileged spec 8.4).
  const unsigned funct5 = di.raw >> 27;
  auto apply = [funct5, is_word](uint64_t old, uint64_t operand) -> uint64_t {
    int64_t so = is_word ? sext32(old) : s(old), sv = is_word ? sext32(operand) : s(operand);
    uint64_t uo = is_word ? static_cast<uint32_t>(old) : old;
    uint64_t uv = is_word ? static_cast<uint32_t>(operand) : operand;
    switch (funct5) {
      case 0x01:
        return operand;
      case 0x00:
        return old + operand;
      case 0x04:
        return old ^ operand;
      case 0x0c:
        return old & operand;
      case 0x08:
        return old | operand;
      case 0x10:
        return so < sv ? old : operand;
      case 0x14:
        return so > sv ? old : operand;
      case 0x18:
        return uo < uv ? old : operand;
      default:
        return uo > uv ? old : operand;  // 0x1c amomaxu
    }
  };
  switch (funct5) {
    case 0x00:
    case 0x01:
    case 0x04:
    case 0x08:
    case 0x0c:
    case 0x10:
    case 0x14:
    case 0x18:
    case 0x1c:
      break;
    default:
      return raise(kIllegalInstruction, di.raw);
  }
  uint64_t old;
  if (is_word) {
    std::atomic_ref<uint32_t> ref(*reinterpret_cast<uint32_t*>(p));
    uint32_t current = ref.load();
    while (!ref.compare_exchange_weak(current, static_cast<uint32_t>(apply(current, src)))) {
    }
    old = u(sext32(current));
  } else {
    std::atomic_ref<uint64_t> ref(*reinterpret_cast<uint64_t*>(p));
    uint64_t current = ref.load();
    while (!ref.compare_exchange_weak(current, apply(current, src))) {
    }
    old = current;
  }
  x_[d] = old;
  return true;
}

bool Hart::execute_fp(uint32_t insn) {
  if ((mstatus_ & mstatus::kFs) == 0) return false;
  fpu::Context ctx{x_, f_, frm_, fflags_};
  if (fpu::execute(insn, ctx) != fpu::Outcome::kOk) return false;
  fflags_ = ctx.fflags;
  mark_fs_dirty();
  return true;
}

bool Hart::execute_system(const DecodedInsn& di) {
  const Op op = di.op;
  const unsigned d = di.rd;
  const unsigned src_reg = di.rs1;
  const unsigned length = di.length;
  switch (op) {
    case Op::kEcall: {
      static constexpr uint64_t kEcallCause[] = {kEcallFromU, kEcallFromS, 0, kEcallFromM};
      return raise(kEcallCause[static_cast<unsigned>(priv_)], 0);
    }
    case Op::kEbreak:
      return raise(kBreakpoint, pc_);
    case Op::kMret:
      if (priv_ != Priv::kMachine) return raise(kIllegalInstruction, 0);
      do_mret();
      return true;
    case Op::kSret:
      if (priv_ == Priv::kUser || (priv_ == Priv::kSupervisor && (mstatus_ & mstatus::kTsr))) {
        return raise(kIllegalInstruction, 0);
      }
      do_sret();
      return true;
    case Op::kWfi:
      if (priv_ == Priv::kUser || (priv_ == Priv::kSupervisor && (mstatus_ & mstatus::kTw))) {
        return raise(kIllegalInstruction, 0);
      }
      pc_ += length;
      // WFI completes at once if an enabled interrupt is pending, even when
      // globally masked (priv spec 3.3.3).
      if ((mip() & mie_) == 0) waiting_ = true;
      return true;
    case Op::kSfenceVma:
      if (priv_ == Priv::kUser || (priv_ == Priv::kSupervisor && (mstatus_ & mstatus::kTvm))) {
        return raise(kIllegalInstruction, 0);
      }
      // rs1 = x0: all addresses; else the one in rs1. The ASID in rs2 is
      // ignored: entries carry none, so every address space's go.
      di.rs1 == 0 ? flush_tlb() : flush_tlb_page(x_[di.rs1]);
      pc_ += length;
      return true;
    default:
      break;
  }
  // Zicsr (unprivileged spec ch. 9).
  const unsigned address = static_cast<unsigned>(di.imm);
  const bool immediate = op == Op::kCsrrwi || op == Op::kCsrrsi || op == Op::kCsrrci;
  const bool swap = op == Op::kCsrrw || op == Op::kCsrrwi;
  const uint64_t operand = immediate ? src_reg : x_[src_reg];
  const bool writes = swap || src_reg != 0;
  if (!csr_accessible(address, writes)) return raise(kIllegalInstruction, 0);
  uint64_t old;
  if (!csr_read(address, old)) return raise(kIllegalInstruction, 0);
  if (writes) {
    // Read-modify-write of mip acts on the software-writable bits only.
    uint64_t base = address == kMip ? mip_sw_ | (mip_hw_.load() & ~(uint64_t{1} << kSeip)) : old;
    uint64_t value = swap                                      ? operand
                     : (op == Op::kCsrrs || op == Op::kCsrrsi) ? base | operand
                                                               : base & ~operand;
    if (!csr_write(address, value)) return raise(kIllegalInstruction, 0);
  }
  x_[d] = old;
  pc_ += length;
  return true;
}

}  // namespace vessel::cpu::riscv
