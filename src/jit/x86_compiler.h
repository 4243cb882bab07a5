// The translator from RV64GC blocks to x86-64 host code (the `jit` engine
// of `vessel run --cpu`). Per hart: each hart owns one compiler and its
// code cache, so translation needs no locks.
#pragma once

#include <cstddef>
#include <memory>

#include "base/result.h"
#include "cpu/riscv/block_compiler.h"

namespace vessel::jit {

// The code cache's default bound per hart.
constexpr size_t kDefaultCodeCacheSize = size_t{32} << 20;

struct JitOptions {
  size_t code_cache_size = kDefaultCodeCacheSize;
  bool perf_map = false;  // name generated code in /tmp/perf-PID.map (see perf_map.h)
};

Result<std::unique_ptr<cpu::riscv::BlockCompiler>> make_x86_compiler(
    const cpu::riscv::HartLayout& layout, const JitOptions& options = {});

}  // namespace vessel::jit
