// Translated blocks: which one runs at pc_, and the helpers generated code
// calls for what it does not do inline (slow memory paths, the instructions
// left to the interpreter, traps).
#include <cstddef>
#include <cstring>
#include <utility>

#include "cpu/riscv/hart.h"
#include "cpu/riscv/memory_access.h"

namespace vessel::cpu::riscv {

namespace {

template <typename T>
int32_t offset_in(const Hart* hart, const T* field) {
  return static_cast<int32_t>(reinterpret_cast<const char*>(field) -
                              reinterpret_cast<const char*>(hart));
}

}  // namespace

static_assert(sizeof(DecodedInsn) == 2 * sizeof(uint64_t));

void Hart::set_compiler(std::unique_ptr<BlockCompiler> compiler, unsigned hot_runs) {
  compiler_ = std::move(compiler);
  enter_ = compiler_ ? compiler_->entry() : nullptr;
  translations_ = compiler_ ? std::make_unique<TranslationCache>(hot_runs) : nullptr;
  recent_translations_ = translations_ ? translations_->recent_table() : nullptr;
}

HartLayout Hart::jit_layout() {
  static_assert(offsetof(TlbEntry, vpn) == TlbEntryLayout::kVpn);
  static_assert(offsetof(TlbEntry, addend) == TlbEntryLayout::kAddend);
  static_assert(offsetof(TlbEntry, ppn) == TlbEntryLayout::kPpn);
  static_assert(sizeof(TlbEntry) == TlbEntryLayout::kSize);
  static_assert(kTlbSize == TlbEntryLayout::kEntries);
  HartLayout layout;
  layout.x = offset_in(this, &x_[0]);
  layout.pc = offset_in(this, &pc_);
  layout.instret = offset_in(this, &instret_);
  layout.attention = offset_in(this, &attention_);
  layout.f = offset_in(this, &f_[0]);
  layout.fflags = offset_in(this, &fflags_);
  layout.frm = offset_in(this, &frm_);
  layout.mstatus = offset_in(this, &mstatus_);
  layout.epoch = offset_in(this, &translation_epoch_);
  layout.last_exit = offset_in(this, &last_exit_);
  layout.recent = offset_in(this, &recent_translations_);
  layout.dirty_log_enabled = bus_.dirty_log().enabled_flag();
  layout.load = &Hart::jit_load;
  layout.store = &Hart::jit_store;
  layout.execute = &Hart::jit_execute;
  layout.take_trap = &Hart::jit_take_trap;
  layout.step = &Hart::jit_step;
  return layout;
}

const void* Hart::compiled_block(uint64_t budget) {
  const ExitLink* exit = std::exchange(last_exit_, nullptr);
  const uint64_t pc = pc_;
  const TlbEntry* e = fetch_entry(pc);
  if (!e) return nullptr;  // the interpreter's fetch fills the TLB
  const uint64_t paddr = (e->ppn << memory::kPageShift) | (pc & 0xfff);
  // Loads and stores index the same view (tlb_view() only sets fetches apart).
  const unsigned data_view = tlb_view(data_privilege(), Access::kLoad);
  const TranslationCache::Key key{
      pc, paddr, static_cast<uint8_t>(static_cast<unsigned>(priv_) << 2 | data_view)};
  const auto* guest_code = reinterpret_cast<const uint8_t*>(pc + e->addend);
  TranslationCache::Found found = translations_->find_recent(key, translation_epoch_);
  if (!found.code) [[unlikely]] {
    // Not hot yet: no translation can exist (counts only grow), none is made.
    if (!translations_->hot(paddr)) return nullptr;
    // Marked before the code is compared, so that a store after that is noticed.
    if (bus_.code_pages().mark(bus_.ram_page(paddr))) flush_store_tlb();
    found = translations_->find(key, guest_code, translation_epoch_);
    if (!found.code) found = translate(key, data_view, guest_code, exit);
  }
  // The block before left by an exit to here, in the same mode: next time
  // it jumps here directly (while this page maps to e->ppn, if another).
  if (exit && found.code && exit->target_pc == pc &&
      (exit->epoch != translation_epoch_ || exit->block != found.code ||
       exit->target_ppn != e->ppn)) {
    compiler_->link(exit, ExitLink{translation_epoch_, found.code, pc, e->ppn});
  }
  return found.count <= budget ? found.code : nullptr;
}

TranslationCache::Found Hart::translate(const TranslationCache::Key& key, unsigned data_view,
                                        const uint8_t* guest_code, const ExitLink*& exit) {
  BlockSource source;
  DecodedInsn straddling;
  if (const Block* block = cached_block()) {
    source.insns = block->insns;
    source.count = block->count;
  } else {
    // Its first instruction straddles two pages: a block of its own, which
    // checks at run time that the second half is still what it was.
    const TlbEntry* next = fetch_entry(key.pc + 2);
    if (!next) return {};  // the interpreter runs it, and its fetch fills the TLB
    uint16_t halves[2];
    std::memcpy(&halves[0], guest_code, 2);
    std::memcpy(&halves[1], reinterpret_cast<const uint8_t*>(key.pc + 2 + next->addend), 2);
    straddling = decode_insn(halves[0] | uint32_t{halves[1]} << 16, 4);
    source.insns = &straddling;
    source.count = 1;
    source.straddles = true;
    source.second_half_ppn = next->ppn;
    source.second_half = halves[1];
  }
  source.pc = key.pc;
  source.load_tlb = offset_in(this, &tlb_[data_view][static_cast<unsigned>(Access::kLoad)][0]);
  source.store_tlb = offset_in(this, &tlb_[data_view][static_cast<unsigned>(Access::kStore)][0]);
  source.fetch_tlb = offset_in(
      this, &tlb_[static_cast<unsigned>(priv_)][static_cast<unsigned>(Access::kFetch)][0]);
  source.mode = key.mode;
  const void* code = compiler_->compile(source);
  if (!code) {  // the code cache is full: start over
    compiler_->flush();
    translations_->clear();
    exit = nullptr;  // it was in the cache
    code = compiler_->compile(source);
    if (!code) return {};
  }
  // The guest code it was made from, in this page (what is in the next, the
  // block checks itself).
  const DecodedInsn& last = source.insns[source.count - 1];
  const TranslationCache::Found found{code, source.count};
  translations_->insert(key, found, guest_code, source.straddles ? 2 : last.offset + last.length,
                        translation_epoch_);
  return found;
}

bool Hart::jit_load(Hart* hart, uint64_t vaddr, uint32_t access) {
  const unsigned size = access & 0xff, sign = (access >> 8) & 1, rd = access >> 16;
  uint64_t value;
  if (!hart->load_slow(vaddr, size, value)) return false;
  if (sign && size < 8) {
    const unsigned shift = 64 - 8 * size;
    value = static_cast<uint64_t>(static_cast<int64_t>(value << shift) >> shift);
  }
  if (rd < 32) hart->x_[rd] = value;
  return true;
}

bool Hart::jit_store(Hart* hart, uint64_t vaddr, uint64_t value, uint32_t size) {
  return hart->store_slow(vaddr, size, value);
}

bool Hart::jit_execute(Hart* hart, uint64_t insn_low, uint64_t insn_high) {
  const uint64_t halves[2] = {insn_low, insn_high};
  DecodedInsn insn;
  std::memcpy(&insn, halves, sizeof(insn));
  return hart->execute(insn);
}

void Hart::jit_step(Hart* hart) {
  DecodedInsn single;
  if (hart->fetch_uncached(single)) {
    hart->execute_block(&single, 1, 1);
  } else {
    hart->take_trap(hart->trap_cause_, hart->trap_tval_, false);
  }
}

void Hart::jit_take_trap(Hart* hart) {
  hart->take_trap(hart->trap_cause_, hart->trap_tval_, false);
}

}  // namespace vessel::cpu::riscv
