// A small worker pool for `vessel img` verbs that split their work into
// numbered pieces (convert's steps, bench's requests).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

#include "base/result.h"

namespace vessel::storage {

// Runs fn(i, worker) for i in [0, count) on `threads` threads (worker: the
// thread's number, for per-thread buffers). After an error no new i is
// started; the first error is returned.
template <typename Fn>
Result<void> for_each_parallel(uint64_t count, size_t threads, Fn fn) {
  std::atomic<uint64_t> next{0};
  std::atomic<bool> failed{false};
  std::mutex error_mu;
  Error error("");
  auto work = [&](size_t worker) {
    for (uint64_t i; !failed.load() && (i = next.fetch_add(1)) < count;) {
      Result<void> r = fn(i, worker);
      if (!r.ok()) {
        std::lock_guard<std::mutex> lock(error_mu);
        if (!failed.exchange(true)) error = r.error();
      }
    }
  };
  if (threads <= 1) {
    work(0);
  } else {
    std::vector<std::thread> pool;
    for (size_t t = 0; t < threads; ++t) pool.emplace_back(work, t);
    for (auto& t : pool) t.join();
  }
  if (failed) return error;
  return Ok();
}

}  // namespace vessel::storage
