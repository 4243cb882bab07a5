#include "devices/plic.h"

#include <utility>

namespace vessel::devices {
namespace {

// Register map (RISC-V PLIC spec 1.0.0, "Memory Map").
constexpr uint64_t kPriorityBase = 0x0;
constexpr uint64_t kPendingBase = 0x1000;
constexpr uint64_t kEnableBase = 0x2000;
constexpr uint64_t kEnableStride = 0x80;
constexpr uint64_t kContextBase = 0x200000;
constexpr uint64_t kContextStride = 0x1000;
constexpr uint64_t kThresholdOffset = 0x0;
constexpr uint64_t kClaimOffset = 0x4;

constexpr unsigned kWords = (Plic::kSources + 31) / 32;
constexpr uint32_t kStateVersion = 1;

template <size_t N>
uint32_t word_of(const std::bitset<N>& bits, unsigned word) {
  uint32_t value = 0;
  for (unsigned bit = 0; bit < 32; ++bit) {
    unsigned index = word * 32 + bit;
    if (index < N && bits[index]) value |= uint32_t{1} << bit;
  }
  return value;
}

template <size_t N>
void set_word(std::bitset<N>& bits, unsigned word, uint32_t value) {
  for (unsigned bit = 0; bit < 32; ++bit) {
    unsigned index = word * 32 + bit;
    if (index < N) bits[index] = (value >> bit) & 1;
  }
}

template <size_t N>
void save_bits(StateWriter& out, const std::bitset<N>& bits) {
  for (unsigned w = 0; w < (N + 31) / 32; ++w) out.u32(word_of(bits, w));
}

template <size_t N>
void load_bits(StateReader& in, std::bitset<N>& bits) {
  for (unsigned w = 0; w < (N + 31) / 32; ++w) set_word(bits, w, in.u32());
  bits[0] = false;  // source 0 does not exist
}

}  // namespace

Plic::Plic(unsigned num_harts, std::vector<IrqLine> context_outputs)
    : outputs_(std::move(context_outputs)), contexts_(size_t{num_harts} * 2) {
  // Missing outputs are simply unconnected pins.
  outputs_.resize(contexts_.size());
}

void Plic::set_source_level(unsigned source, bool level) {
  if (source == 0 || source >= kSources) return;
  std::lock_guard lock(mutex_);
  level_[source] = level;
  // Gateway: a high line forwards one request, then waits for completion.
  if (level && !in_service_[source]) pending_[source] = true;
  // A line that drops before its request is claimed withdraws the request.
  // The PLIC spec lets the request stay (the handler then finds nothing to
  // do); QEMU's `virt` withdraws it, and Linux's drivers are tuned against
  // that: fewer spurious claims.
  if (!level && !in_service_[source]) pending_[source] = false;
  update_outputs();
}

// The highest-priority pending, enabled source with priority > 0; ties go to
// the lowest source number. 0 if there is none.
unsigned Plic::best_pending(const Context& ctx) const {
  unsigned best = 0;
  uint32_t best_priority = 0;
  SourceSet candidates = pending_ & ctx.enabled;
  for (unsigned s = 1; s < kSources; ++s) {
    if (candidates[s] && priority_[s] > best_priority) {
      best = s;
      best_priority = priority_[s];
    }
  }
  return best;
}

void Plic::drive_output(size_t index, bool level) {
  contexts_[index].output = level;
  if (outputs_[index]) outputs_[index](level);
}

void Plic::update_outputs(bool drive_all) {
  for (size_t i = 0; i < contexts_.size(); ++i) {
    Context& ctx = contexts_[i];
    unsigned best = best_pending(ctx);
    bool level = best != 0 && priority_[best] > ctx.threshold;
    if (drive_all || level != ctx.output) drive_output(i, level);
  }
}

// PLIC spec "Interrupt Claim Process": the claim is not affected by the
// threshold; it returns the best pending source and clears its pending bit.
uint32_t Plic::claim(Context& ctx) {
  unsigned source = best_pending(ctx);
  if (source == 0) return 0;
  pending_[source] = false;
  in_service_[source] = true;
  return source;
}

// PLIC spec "Interrupt Completion": an ID that is not enabled for the context
// is silently ignored. Reopening the gateway re-pends a still-high line.
void Plic::complete(Context& ctx, uint32_t source) {
  if (source == 0 || source >= kSources || !ctx.enabled[source]) {
    guest_errors_.warn("plic: completion of source %u ignored (not enabled for the context)",
                       source);
    return;
  }
  in_service_[source] = false;
  if (level_[source]) pending_[source] = true;
}

uint32_t Plic::read_reg(uint64_t offset) {
  if (offset < kPendingBase) {
    uint64_t source = (offset - kPriorityBase) / 4;
    return source < kSources ? priority_[source] : 0;
  }
  if (offset < kEnableBase) {
    uint64_t word = (offset - kPendingBase) / 4;
    return word < kWords ? word_of(pending_, static_cast<unsigned>(word)) : 0;
  }
  if (offset < kContextBase) {
    uint64_t ctx = (offset - kEnableBase) / kEnableStride;
    uint64_t word = (offset - kEnableBase) % kEnableStride / 4;
    if (ctx >= contexts_.size() || word >= kWords) return 0;
    return word_of(contexts_[ctx].enabled, static_cast<unsigned>(word));
  }
  uint64_t ctx = (offset - kContextBase) / kContextStride;
  uint64_t reg = (offset - kContextBase) % kContextStride;
  if (ctx >= contexts_.size()) return 0;
  if (reg == kThresholdOffset) return contexts_[ctx].threshold;
  if (reg == kClaimOffset) return claim(contexts_[ctx]);
  return 0;
}

void Plic::write_reg(uint64_t offset, uint32_t value) {
  if (offset < kPendingBase) {
    uint64_t source = (offset - kPriorityBase) / 4;
    // Source 0 does not exist; priority is WARL with 3 implemented bits.
    if (source != 0 && source < kSources) priority_[source] = value & kMaxPriority;
    return;
  }
  if (offset < kEnableBase) {
    guest_errors_.warn("plic: write to read-only pending register at 0x%llx ignored",
                       static_cast<unsigned long long>(offset));
    return;
  }
  if (offset < kContextBase) {
    uint64_t ctx = (offset - kEnableBase) / kEnableStride;
    uint64_t word = (offset - kEnableBase) % kEnableStride / 4;
    if (ctx >= contexts_.size() || word >= kWords) return;
    set_word(contexts_[ctx].enabled, static_cast<unsigned>(word), value);
    contexts_[ctx].enabled[0] = false;
    return;
  }
  uint64_t ctx = (offset - kContextBase) / kContextStride;
  uint64_t reg = (offset - kContextBase) % kContextStride;
  if (ctx >= contexts_.size()) return;
  if (reg == kThresholdOffset) contexts_[ctx].threshold = value & kMaxPriority;
  if (reg == kClaimOffset) complete(contexts_[ctx], value);
}

bool Plic::mmio_read(uint64_t offset, unsigned size, uint64_t& value) {
  if (size != 4) {
    guest_errors_.warn("plic: %u-byte read at 0x%llx (only 32-bit accesses exist)", size,
                       static_cast<unsigned long long>(offset));
    return false;
  }
  std::lock_guard lock(mutex_);
  value = read_reg(offset);
  update_outputs();
  return true;
}

bool Plic::mmio_write(uint64_t offset, unsigned size, uint64_t value) {
  if (size != 4) {
    guest_errors_.warn("plic: %u-byte write at 0x%llx (only 32-bit accesses exist)", size,
                       static_cast<unsigned long long>(offset));
    return false;
  }
  std::lock_guard lock(mutex_);
  write_reg(offset, static_cast<uint32_t>(value));
  update_outputs();
  return true;
}

void Plic::save(StateWriter& out) const {
  std::lock_guard lock(mutex_);
  out.begin_section("plic", kStateVersion);
  for (uint32_t p : priority_) out.u32(p);
  save_bits(out, level_);
  save_bits(out, pending_);
  save_bits(out, in_service_);
  out.u32(static_cast<uint32_t>(contexts_.size()));
  for (const Context& ctx : contexts_) {
    save_bits(out, ctx.enabled);
    out.u32(ctx.threshold);
  }
  out.end_section();
}

Result<void> Plic::load(StateReader& in) {
  TRY(in.begin_section("plic", kStateVersion));
  std::array<uint32_t, kSources> priority;
  for (uint32_t& p : priority) p = in.u32() & kMaxPriority;
  priority[0] = 0;
  SourceSet level, pending, in_service;
  load_bits(in, level);
  load_bits(in, pending);
  load_bits(in, in_service);
  uint32_t count = in.u32();
  if (!in.failed() && count != contexts_.size()) {
    return Error("saved state: plic has " + std::to_string(count) + " contexts, this board has " +
                 std::to_string(contexts_.size()));
  }
  std::vector<Context> contexts(contexts_.size());
  for (Context& ctx : contexts) {
    load_bits(in, ctx.enabled);
    ctx.threshold = in.u32() & kMaxPriority;
  }
  TRY(in.end_section());

  std::lock_guard lock(mutex_);
  priority_ = priority;
  level_ = level;
  pending_ = pending;
  in_service_ = in_service;
  for (size_t i = 0; i < contexts_.size(); ++i) {
    contexts_[i].enabled = contexts[i].enabled;
    contexts_[i].threshold = contexts[i].threshold;
  }
  // Drive every pin: the restored level may differ from what was last driven.
  update_outputs(/*drive_all=*/true);
  return Ok();
}

// As QEMU's sifive_plic_reset: priorities, enables, thresholds and claims
// cleared, every context's pin low. The gateways reopen: a device line that
// is still high forwards a new request (which no context has enabled yet).
void Plic::reset() {
  std::lock_guard lock(mutex_);
  priority_ = {};
  in_service_.reset();
  pending_ = level_;
  for (Context& ctx : contexts_) {
    ctx.enabled.reset();
    ctx.threshold = 0;
  }
  update_outputs(/*drive_all=*/true);
}

}  // namespace vessel::devices
