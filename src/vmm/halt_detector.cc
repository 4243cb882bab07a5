#include "vmm/halt_detector.h"

namespace vessel::vmm {
namespace {
constexpr uint64_t kSsip = uint64_t{1} << 1;
constexpr uint64_t kMsip = uint64_t{1} << 3;
}  // namespace

HaltDetector::Wait HaltDetector::classify(uint64_t mie) {
  if ((mie & ~(kSsip | kMsip)) != 0) return Wait::kAnyInterrupt;
  return (mie & kMsip) != 0 ? Wait::kIpiOnly : Wait::kForever;
}

HaltDetector::HaltDetector(unsigned harts, std::function<bool(unsigned hart)> ipi_pending)
    : state_(harts, Wait::kAnyInterrupt), ipi_pending_(std::move(ipi_pending)) {}

bool HaltDetector::waiting(unsigned hart, Wait how) {
  // One lock for every transition: of two harts going to sleep at once, the
  // second sees the first asleep. A hart sending an IPI raises MSIP before it
  // can sleep itself, so its target is either pending here or running.
  std::lock_guard lock(mutex_);
  state_[hart] = how;
  for (unsigned h = 0; h < state_.size(); ++h) {
    if (state_[h] == Wait::kAnyInterrupt) return false;
    if (state_[h] == Wait::kIpiOnly && ipi_pending_(h)) return false;
  }
  return true;
}

void HaltDetector::running(unsigned hart) {
  std::lock_guard lock(mutex_);
  state_[hart] = Wait::kAnyInterrupt;
}

void HaltDetector::reset() {
  std::lock_guard lock(mutex_);
  for (Wait& w : state_) w = Wait::kAnyInterrupt;
}

}  // namespace vessel::vmm
