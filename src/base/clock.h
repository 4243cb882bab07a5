// The guest's time base: a monotonic counter at 10 MHz (the `virt` board's
// timebase-frequency), derived from the host's monotonic clock. Both the
// CLINT's mtime and the CPU's `time` CSR read it, so they always agree.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace vessel {

class GuestClock {
 public:
  static constexpr uint64_t kFrequency = 10'000'000;

  GuestClock() : origin_ns_(host_ns()) {}

  uint64_t ticks() const {
    return (host_ns() - origin_ns_.load(std::memory_order_relaxed)) / (1'000'000'000 / kFrequency);
  }
  // Restore: make ticks() continue from `value` (saved state, migration).
  void set_ticks(uint64_t value) {
    origin_ns_.store(host_ns() - value * (1'000'000'000 / kFrequency), std::memory_order_relaxed);
  }
  // Host steady-clock instant at which ticks() reaches `value`.
  std::chrono::steady_clock::time_point instant_of(uint64_t value) const {
    return std::chrono::steady_clock::time_point(std::chrono::nanoseconds(
        origin_ns_.load(std::memory_order_relaxed) + value * (1'000'000'000 / kFrequency)));
  }

 private:
  static uint64_t host_ns() {
    return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                     std::chrono::steady_clock::now().time_since_epoch())
                                     .count());
  }
  std::atomic<uint64_t> origin_ns_;
};

}  // namespace vessel
