#include "jit/x86_compiler.h"

#include <asmjit/x86.h>

#include <cstring>
#include <iterator>
#include <utility>

#include "jit/block_emitter.h"
#include "jit/code_cache.h"
#include "jit/perf_map.h"
#include "jit/stubs.h"

namespace vessel::jit {

namespace {

using cpu::riscv::BlockSource;
using cpu::riscv::EnterBlock;
using cpu::riscv::ExitLink;

// Assembler errors (an operand combination the encoder refuses) are
// recorded, and the block is then left to the interpreter.
class ErrorFlag : public asmjit::ErrorHandler {
 public:
  void handleError(asmjit::Error, const char*, asmjit::BaseEmitter*) override { failed = true; }
  bool failed = false;
};

class X86Compiler final : public cpu::riscv::BlockCompiler {
 public:
  X86Compiler(const cpu::riscv::HartLayout& layout, CodeCache cache,
              std::shared_ptr<PerfMap> perf_map)
      : layout_(layout), cache_(std::move(cache)), perf_map_(std::move(perf_map)) {}

  // The stubs, at the cache's start, kept there through every flush, so
  // entry() never changes.
  bool install_stubs() {
    asmjit::CodeHolder code;
    code.init(asmjit::Environment::host());
    ErrorFlag errors;
    code.setErrorHandler(&errors);
    asmjit::x86::Assembler assembler(&code);
    const StubLabels labels = emit_stubs(assembler, layout_);
    auto* start = static_cast<uint8_t*>(cache_.add(code));
    if (errors.failed || !start) return false;
    cache_.keep();
    auto at = [&](asmjit::Label label) {
      return reinterpret_cast<uint64_t>(start + code.labelOffsetFromBase(label));
    };
    stubs_ = Stubs{at(labels.enter), at(labels.leave), at(labels.link), at(labels.indirect),
                   at(labels.trap),  at(labels.load),  at(labels.store)};
    if (perf_map_) {  // each stub up to the next (emit_stubs() emits them in this order)
      const std::pair<uint64_t, const char*> named[] = {
          {stubs_.enter, "vessel-jit-enter"}, {stubs_.leave, "vessel-jit-leave"},
          {stubs_.link, "vessel-jit-link"},   {stubs_.indirect, "vessel-jit-indirect"},
          {stubs_.trap, "vessel-jit-trap"},   {stubs_.load, "vessel-jit-load"},
          {stubs_.store, "vessel-jit-store"}};
      const uint64_t end = reinterpret_cast<uint64_t>(start) + code.codeSize();
      for (size_t i = 0; i < std::size(named); ++i) {
        const uint64_t next = i + 1 < std::size(named) ? named[i + 1].first : end;
        perf_map_->name(reinterpret_cast<const void*>(named[i].first), next - named[i].first,
                        named[i].second);
      }
    }
    return true;
  }

  const void* compile(const BlockSource& source) override {
    asmjit::CodeHolder code;
    code.init(asmjit::Environment::host());
    ErrorFlag errors;
    code.setErrorHandler(&errors);
    asmjit::x86::Assembler assembler(&code);
    if (!emit_block(assembler, layout_, source, stubs_) || errors.failed) return nullptr;
    void* block = cache_.add(code);
    if (block && perf_map_) perf_map_->name_block(block, code.codeSize(), source.pc);
    return block;
  }

  EnterBlock entry() const override { return reinterpret_cast<EnterBlock>(stubs_.enter); }

  void link(const ExitLink* exit, const ExitLink& value) override {
    std::memcpy(cache_.writable(exit), &value, sizeof(value));
  }

  void flush() override { cache_.clear(); }

 private:
  const cpu::riscv::HartLayout layout_;
  CodeCache cache_;
  std::shared_ptr<PerfMap> perf_map_;  // null unless asked for
  Stubs stubs_;
};

}  // namespace

Result<std::unique_ptr<cpu::riscv::BlockCompiler>> make_x86_compiler(
    const cpu::riscv::HartLayout& layout, const JitOptions& options) {
#if !defined(__x86_64__)
  return Error("the JIT makes x86-64 code: use --cpu interp on this host");
#endif
  TRY_ASSIGN(CodeCache cache, CodeCache::create(options.code_cache_size));
  std::shared_ptr<PerfMap> perf_map;
  if (options.perf_map) {
    TRY_ASSIGN(perf_map, PerfMap::open());
  }
  auto compiler = std::make_unique<X86Compiler>(layout, std::move(cache), std::move(perf_map));
  if (!compiler->install_stubs()) return Error("the JIT cannot assemble its entry code");
  return std::unique_ptr<cpu::riscv::BlockCompiler>(std::move(compiler));
}

}  // namespace vessel::jit
