#include "cpu/riscv/translation_cache.h"

#include <algorithm>
#include <cstring>

namespace vessel::cpu::riscv {

TranslationCache::TranslationCache() : direct_(new Direct[kDirect]) {}

TranslationCache::Found TranslationCache::find(const Key& key, const uint8_t* guest_code) {
  auto it = translations_.find(key);
  if (it == translations_.end()) return {};
  Translation& t = it->second;
  if (t.checked != epoch_) {
    if (std::memcmp(t.guest_code.data(), guest_code, t.guest_code.size()) != 0) {
      translations_.erase(it);  // its code is unreachable until the cache is cleared
      return {};
    }
    t.checked = epoch_;
  }
  direct_[slot(key)] = Direct{key, t.found};
  return t.found;
}

void TranslationCache::insert(const Key& key, Found found, const uint8_t* guest_code,
                              size_t code_size) {
  Translation& t = translations_[key];
  t.found = found;
  t.guest_code.assign(guest_code, guest_code + code_size);
  t.checked = epoch_;
  direct_[slot(key)] = Direct{key, found};
}

void TranslationCache::code_may_have_changed() {
  ++epoch_;
  std::fill(direct_.get(), direct_.get() + kDirect, Direct{});
}

void TranslationCache::clear() {
  translations_.clear();
  code_may_have_changed();
}

}  // namespace vessel::cpu::riscv
