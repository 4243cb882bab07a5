#include "cpu/riscv/translation_cache.h"

#include <algorithm>
#include <cstring>

namespace vessel::cpu::riscv {

TranslationCache::TranslationCache(unsigned hot_runs)
    : direct_(new Direct[kDirect]), hot_runs_(hot_runs), heat_(new uint32_t[kHeatSlots]()) {}

TranslationCache::Found TranslationCache::find(const Key& key, const uint8_t* guest_code,
                                               uint64_t epoch) {
  Direct& direct = direct_[slot(key)];
  Translation* t = direct.key == key ? direct.translation : nullptr;
  if (!t) {
    auto it = translations_.find(key);
    if (it == translations_.end()) return {};
    t = &it->second;
  }
  if (t->checked != epoch) {
    if (std::memcmp(t->guest_code.data(), guest_code, t->guest_code.size()) != 0) {
      if (direct.translation == t) direct = Direct{};
      translations_.erase(key);  // its code is unreachable until the cache is cleared
      return {};
    }
    t->checked = epoch;
  }
  direct = Direct{key, t->found, epoch, t};
  return t->found;
}

void TranslationCache::insert(const Key& key, Found found, const uint8_t* guest_code,
                              size_t code_size, uint64_t epoch) {
  Translation& t = translations_[key];
  t.found = found;
  t.guest_code.assign(guest_code, guest_code + code_size);
  t.checked = epoch;
  direct_[slot(key)] = Direct{key, found, epoch, &t};
}

void TranslationCache::clear() {
  translations_.clear();
  std::fill(direct_.get(), direct_.get() + kDirect, Direct{});
}

}  // namespace vessel::cpu::riscv
