#include "memory/code_pages.h"

#include <algorithm>

namespace vessel::memory {

void CodePages::resize(uint64_t pages) {
  flags_.reset(new std::atomic<uint8_t>[pages]());
  pages_ = pages;
}

bool CodePages::mark(uint64_t page) {
  if (page >= pages_ || flags_[page].exchange(1, std::memory_order_acq_rel) != 0) return false;
  marks_.fetch_add(1, std::memory_order_acq_rel);
  alert();
  return true;
}

void CodePages::unmark(uint64_t page) {
  if (flags_[page].exchange(0, std::memory_order_acq_rel) == 0) return;  // another hart did
  generation_.fetch_add(1, std::memory_order_acq_rel);
  alert();
}

void CodePages::watch(std::atomic<bool>* attention) {
  std::lock_guard lock(watchers_mutex_);
  watchers_.push_back(attention);
}

void CodePages::unwatch(std::atomic<bool>* attention) {
  std::lock_guard lock(watchers_mutex_);
  std::erase(watchers_, attention);
}

void CodePages::alert() {
  std::lock_guard lock(watchers_mutex_);
  for (std::atomic<bool>* attention : watchers_) attention->store(true, std::memory_order_release);
}

}  // namespace vessel::memory
