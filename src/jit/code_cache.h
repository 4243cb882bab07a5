// Memory for generated code, W^X: one memfd mapped twice, read-write where
// blocks are written and read-execute where they run, so no page is ever
// both writable and executable. Blocks are placed one after the other; the
// cache has a fixed size, and when it is full its owner flushes it whole
// (no translation outlives a flush, so nothing needs freeing one by one).
#pragma once

#include <asmjit/core.h>

#include <cstddef>
#include <cstdint>

#include "base/result.h"

namespace vessel::jit {

class CodeCache {
 public:
  static Result<CodeCache> create(size_t capacity);
  CodeCache(CodeCache&& other) noexcept;
  CodeCache& operator=(CodeCache&&) = delete;
  CodeCache(const CodeCache&) = delete;
  ~CodeCache();

  // Places the assembled `code` (relocated to where it will run) and returns
  // its executable address, or nullptr when the cache is full.
  void* add(asmjit::CodeHolder& code);
  // The writable view of `executable`, an address in the cache (for data
  // the blocks read, such as their exits' links).
  void* writable(const void* executable) const {
    return writable_ + (static_cast<const uint8_t*>(executable) - executable_);
  }
  // What the cache holds now stays there through clear() (the stubs).
  void keep() { kept_ = used_; }
  // Forgets every block placed after keep(): their memory is reused.
  void clear() { used_ = kept_; }

 private:
  CodeCache(uint8_t* writable, uint8_t* executable, size_t capacity)
      : writable_(writable), executable_(executable), capacity_(capacity) {}

  uint8_t* writable_;
  uint8_t* executable_;
  size_t capacity_;
  size_t used_ = 0;
  size_t kept_ = 0;
};

}  // namespace vessel::jit
