// Which translated block runs at a guest pc: every translation in the code
// cache, found by guest pc, physical address and mode (fetch privilege and
// data TLB view), with a copy of the guest code it was made from. A small
// direct-mapped table in front finds recent ones without hashing.
//
// FENCE.I (guest code may have changed) only empties that table: a
// translation is used again once its guest code is found unchanged, so the
// fences Linux issues after every page of code it maps cost a compare per
// block instead of a new translation.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

#include "cpu/riscv/block_compiler.h"

namespace vessel::cpu::riscv {

class TranslationCache {
 public:
  struct Key {
    uint64_t pc = ~uint64_t{0};
    uint64_t paddr = 0;
    uint8_t mode = 0;
    bool operator==(const Key&) const = default;
  };
  struct Found {
    const void* code = nullptr;  // run through BlockCompiler::entry()
    uint32_t count = 0;          // guest instructions in the block
  };

  explicit TranslationCache(unsigned hot_runs);

  // Translations are checked against their guest code once per `epoch`
  // (the hart's, moved whenever code may have changed: FENCE.I, a store
  // into code), lazily, when next used.

  // The translation for `key` if it is among the recent ones and was
  // checked in this epoch, else {}.
  Found find_recent(const Key& key, uint64_t epoch) const {
    const Direct& direct = direct_[slot(key)];
    return direct.key == key && direct.checked == epoch ? direct.found : Found{};
  }
  // The translation for `key`, whose guest code is now at `guest_code`
  // (host memory, to the end of the page), or {} if there is none or its
  // code changed.
  Found find(const Key& key, const uint8_t* guest_code, uint64_t epoch);
  // The recent translations' table, which translated code also probes for
  // the targets of indirect jumps (see RecentLayout).
  const void* recent_table() const { return direct_.get(); }

  // Records a new translation of `code_size` bytes of guest code.
  void insert(const Key& key, Found found, const uint8_t* guest_code, size_t code_size,
              uint64_t epoch);
  // The code cache was emptied: forget every translation.
  void clear();

  // Counts a run of the untranslated block at `paddr`; true once it has run
  // hot_runs times, and from then on. Blocks that share a slot share its
  // count: they become hot sooner, never later (two that took turns
  // resetting a tagged count never would).
  bool hot(uint64_t paddr) {
    uint32_t& runs = heat_[((paddr >> 1) ^ (paddr >> 13)) % kHeatSlots];
    if (runs >= hot_runs_) return true;
    ++runs;
    return false;
  }

 private:
  static constexpr unsigned kDirect = 4096;
  struct Translation {
    Found found;
    std::vector<uint8_t> guest_code;
    uint64_t checked = 0;  // the epoch it was last found unchanged in
  };
  struct Direct {
    Key key;
    Found found;
    uint64_t checked = 0;
    Translation* translation = nullptr;  // in translations_
  };
  static constexpr unsigned kHeatSlots = 65536;
  struct KeyHash {
    size_t operator()(const Key& k) const { return k.pc * 0x9e3779b97f4a7c15 ^ k.paddr ^ k.mode; }
  };
  static unsigned slot(const Key& key) {
    return static_cast<unsigned>((key.pc >> 1) ^ (key.pc >> 13)) % kDirect;
  }
  friend struct RecentLayout;

  std::unique_ptr<Direct[]> direct_;
  std::unordered_map<Key, Translation, KeyHash> translations_;
  const unsigned hot_runs_;
  std::unique_ptr<uint32_t[]> heat_;
};

// The recent table as translated code reads it: kSlots entries of kSize
// bytes, entry ((pc >> 1) ^ (pc >> 13)) % kSlots for a guest pc.
struct RecentLayout {
  using Direct = TranslationCache::Direct;
  static constexpr unsigned kSlots = TranslationCache::kDirect;
  static constexpr int32_t kPc = 0, kPaddr = 8, kMode = 16, kCode = 24, kChecked = 40;
  static constexpr int32_t kSize = 56;
  static_assert(offsetof(Direct, key) + offsetof(TranslationCache::Key, pc) == kPc);
  static_assert(offsetof(Direct, key) + offsetof(TranslationCache::Key, paddr) == kPaddr);
  static_assert(offsetof(Direct, key) + offsetof(TranslationCache::Key, mode) == kMode);
  static_assert(offsetof(Direct, found) + offsetof(TranslationCache::Found, code) == kCode);
  static_assert(offsetof(Direct, checked) == kChecked);
  static_assert(sizeof(Direct) == kSize);
};

}  // namespace vessel::cpu::riscv
