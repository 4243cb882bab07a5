// Translated blocks: which one runs at pc_, and the helpers generated code
// calls for what it does not do inline (slow memory paths, the instructions
// left to the interpreter, traps).
#include <cstddef>
#include <cstring>

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

void Hart::set_compiler(std::unique_ptr<BlockCompiler> compiler) {
  compiler_ = std::move(compiler);
  if (compiler_ && !compiled_) compiled_.reset(new CompiledEntry[kCompiledBlocks]);
  flush_compiled();
}

HartLayout Hart::jit_layout() {
  static_assert(offsetof(TlbEntry, vpn) == TlbEntryLayout::kVpn);
  static_assert(offsetof(TlbEntry, addend) == TlbEntryLayout::kAddend);
  static_assert(sizeof(TlbEntry) == TlbEntryLayout::kSize);
  static_assert(kTlbSize == TlbEntryLayout::kEntries);
  HartLayout layout;
  layout.x = offset_in(this, &x_[0]);
  layout.pc = offset_in(this, &pc_);
  layout.instret = offset_in(this, &instret_);
  layout.attention = offset_in(this, &attention_);
  layout.dirty_log_enabled = bus_.dirty_log().enabled_flag();
  layout.load = &Hart::jit_load;
  layout.store = &Hart::jit_store;
  layout.execute = &Hart::jit_execute;
  layout.take_trap = &Hart::jit_take_trap;
  return layout;
}

void Hart::flush_compiled() {
  compiled_stale_ = false;
  if (!compiled_) return;
  for (unsigned i = 0; i < kCompiledBlocks; ++i) compiled_[i] = CompiledEntry{};
  if (compiler_) compiler_->flush();
}

CompiledBlock Hart::compiled_block(uint64_t budget) {
  if (compiled_stale_) [[unlikely]]
    flush_compiled();
  const uint64_t pc = pc_;
  const uint64_t vpn = pc >> memory::kPageShift;
  const TlbEntry& e =
      tlb_[static_cast<unsigned>(priv_)][static_cast<unsigned>(Access::kFetch)][vpn % kTlbSize];
  if (e.vpn != vpn) return nullptr;  // the interpreter's fetch fills the TLB
  const uint64_t paddr = (e.ppn << memory::kPageShift) | (pc & 0xfff);
  // Loads and stores index the same view (tlb_view() only sets fetches apart).
  const unsigned data_view = tlb_view(data_privilege(), Access::kLoad);
  const auto mode = static_cast<uint8_t>(static_cast<unsigned>(priv_) << 2 | data_view);
  CompiledEntry& entry = compiled_[((pc >> 1) ^ (pc >> 13)) % kCompiledBlocks];
  if (entry.pc == pc && entry.paddr == paddr && entry.mode == mode) [[likely]] {
    return entry.count <= budget ? entry.code : nullptr;
  }

  const Block* block = cached_block();
  if (!block) return nullptr;
  BlockSource source;
  source.insns = block->insns;
  source.count = block->count;
  source.pc = pc;
  source.load_tlb = offset_in(this, &tlb_[data_view][static_cast<unsigned>(Access::kLoad)][0]);
  source.store_tlb = offset_in(this, &tlb_[data_view][static_cast<unsigned>(Access::kStore)][0]);
  CompiledBlock code = compiler_->compile(source);
  if (!code) {  // the code cache is full: start over
    flush_compiled();
    code = compiler_->compile(source);
    if (!code) return nullptr;
  }
  entry = CompiledEntry{pc, paddr, code, block->count, mode};
  return block->count <= budget ? code : nullptr;
}

bool Hart::jit_load(Hart* hart, uint64_t vaddr, uint32_t size, uint32_t sign, uint32_t rd) {
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

void Hart::jit_take_trap(Hart* hart) {
  hart->take_trap(hart->trap_cause_, hart->trap_tval_, false);
}

}  // namespace vessel::cpu::riscv
