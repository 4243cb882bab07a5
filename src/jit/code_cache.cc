#include "jit/code_cache.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace vessel::jit {

namespace {

constexpr size_t kAlignment = 16;  // where each block starts

}  // namespace

Result<CodeCache> CodeCache::create(size_t capacity) {
  const int fd = memfd_create("vessel-jit", MFD_CLOEXEC);
  if (fd < 0) return Error(std::string("code cache: memfd_create: ") + std::strerror(errno));
  void* writable = MAP_FAILED;
  void* executable = MAP_FAILED;
  if (ftruncate(fd, static_cast<off_t>(capacity)) == 0) {
    writable = mmap(nullptr, capacity, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    executable = mmap(nullptr, capacity, PROT_READ | PROT_EXEC, MAP_SHARED, fd, 0);
  }
  const int saved_errno = errno;
  close(fd);  // the mappings keep the memory
  if (writable == MAP_FAILED || executable == MAP_FAILED) {
    if (writable != MAP_FAILED) munmap(writable, capacity);
    if (executable != MAP_FAILED) munmap(executable, capacity);
    return Error(std::string("code cache: ") + std::strerror(saved_errno));
  }
  return CodeCache(static_cast<uint8_t*>(writable), static_cast<uint8_t*>(executable), capacity);
}

CodeCache::CodeCache(CodeCache&& other) noexcept
    : writable_(other.writable_),
      executable_(other.executable_),
      capacity_(other.capacity_),
      used_(other.used_),
      kept_(other.kept_) {
  other.writable_ = other.executable_ = nullptr;
}

CodeCache::~CodeCache() {
  if (writable_) munmap(writable_, capacity_);
  if (executable_) munmap(executable_, capacity_);
}

void* CodeCache::add(asmjit::CodeHolder& code) {
  if (code.flatten() != asmjit::kErrorOk || code.resolveUnresolvedLinks() != asmjit::kErrorOk) {
    return nullptr;
  }
  const size_t start = (used_ + kAlignment - 1) & ~(kAlignment - 1);
  uint8_t* const run_at = executable_ + start;
  // Calls to helpers become rel32 where they reach, which depends on the address.
  if (code.relocateToBase(reinterpret_cast<uint64_t>(run_at)) != asmjit::kErrorOk) return nullptr;
  const size_t size = code.codeSize();
  if (start + size > capacity_) return nullptr;
  if (code.copyFlattenedData(writable_ + start, size) != asmjit::kErrorOk) return nullptr;
  used_ = start + size;
  return run_at;
}

}  // namespace vessel::jit
