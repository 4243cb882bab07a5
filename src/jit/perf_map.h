// Names for generated code, for profilers: Linux perf reads
// /tmp/perf-PID.map ("START SIZE NAME" per line, hex) to attribute samples
// in code that no ELF file describes. Each block is named by the guest pc
// it translates, so `perf report` shows where the guest spends host time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

#include "base/result.h"

namespace vessel::jit {

class PerfMap {
 public:
  // The process's map, created (emptied) by its first user and shared by
  // every hart's compiler.
  static Result<std::shared_ptr<PerfMap>> open();
  ~PerfMap();
  PerfMap(const PerfMap&) = delete;
  PerfMap& operator=(const PerfMap&) = delete;

  // Names `size` bytes of code at `start`. One write() per line, appended:
  // harts translating at once never interleave their lines.
  void name(const void* start, size_t size, std::string_view name);
  void name_block(const void* start, size_t size, uint64_t guest_pc);

 private:
  explicit PerfMap(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace vessel::jit
