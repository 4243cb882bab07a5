// libFuzzer target for the JIT: the input drives the lockstep harness of the
// unit tests (tests/unit/jit/lockstep_harness.h). Its bytes are the source
// of the random choices that build a program (instructions of every RV64G
// row, steered to keep running) and its data, and then pick the budgets
// of the steps and the interrupts between them. The interpreter and the JIT
// must agree on the architectural state after every step; a difference
// aborts with both values.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "../tests/unit/jit/lockstep_harness.h"

namespace {

using namespace vessel::cpu::riscv::lockstep;

// The input, eight bytes at a time; zeros once it runs out.
class InputBytes {
 public:
  InputBytes(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  uint64_t operator()() {
    uint64_t value = 0;
    for (unsigned n = 0; n < 8 && offset_ < size_; ++n)
      value |= uint64_t{data_[offset_++]} << (8 * n);
    return value;
  }
  bool exhausted() const { return offset_ >= size_; }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t offset_ = 0;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Generator<InputBytes> choices(InputBytes(data, size));
  // A short program: the input's first choices, the rest of it unwritten
  // (zero: illegal instructions, skipped by the trap handler).
  const unsigned length = 1 + choices.pick(64);
  std::vector<uint32_t> program(length);
  for (unsigned n = 0; n < length; ++n) program[n] = choices.instruction(n);
  std::vector<uint64_t> memory(kDataSize / 8);
  for (unsigned n = 0; n < 16; ++n) memory[n] = choices.next();
  Lockstep pair(program, memory.data());
  for (unsigned step = 0; step < 64; ++step) {
    const uint64_t budget = 1 + choices.pick(300);
    const std::string difference = pair.step(budget, choices.pick(16) == 0);
    if (!difference.empty()) {
      std::fprintf(stderr, "jit and interpreter differ after step %u: %s\n", step,
                   difference.c_str());
      std::abort();
    }
  }
  return 0;
}
