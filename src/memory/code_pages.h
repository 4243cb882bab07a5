// Which RAM pages hold guest code that a hart has decoded, so that a write
// into them is noticed without FENCE.I (self-modifying code).
//
// Harts mark a page when they decode code from it and keep no store-TLB
// entries for marked pages, so every store into one takes the CPU's slow
// path, which reports it here: the page is unmarked (its stores are fast
// again until code is decoded from it anew), the generation moves, and each
// watching hart's attention flag is raised so it drops its decoded and
// translated code before its next block. New marks raise the flags too: the
// other harts must drop their store-TLB entries for the page.
//
// Device DMA into RAM is not reported here: guests follow it with FENCE.I
// before running what was loaded, as the ISA requires.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

namespace vessel::memory {

class CodePages {
 public:
  void resize(uint64_t pages);

  bool marked(uint64_t page) const {
    return page < pages_ && flags_[page].load(std::memory_order_relaxed) != 0;
  }
  // Marks `page` as code; returns true if it was not marked before.
  bool mark(uint64_t page);
  // A CPU store reached `page`.
  void written(uint64_t page) {
    if (marked(page)) [[unlikely]]
      unmark(page);
  }
  // Moves whenever marked code is written.
  uint64_t generation() const { return generation_.load(std::memory_order_acquire); }
  // Moves whenever a page is newly marked.
  uint64_t marks() const { return marks_.load(std::memory_order_acquire); }

  // Harts' attention flags, raised on every change (watch/unwatch while no
  // hart runs: at construction and destruction).
  void watch(std::atomic<bool>* attention);
  void unwatch(std::atomic<bool>* attention);

 private:
  void unmark(uint64_t page);
  void alert();

  std::unique_ptr<std::atomic<uint8_t>[]> flags_;
  uint64_t pages_ = 0;
  std::atomic<uint64_t> generation_{0};
  std::atomic<uint64_t> marks_{0};
  std::mutex watchers_mutex_;
  std::vector<std::atomic<bool>*> watchers_;
};

}  // namespace vessel::memory
