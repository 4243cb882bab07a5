#include "jit/x86_compiler.h"

#include <asmjit/x86.h>

#include <cstring>

#include "jit/block_emitter.h"
#include "jit/code_cache.h"

namespace vessel::jit {

namespace {

using cpu::riscv::BlockSource;
using cpu::riscv::CompiledBlock;
using cpu::riscv::ExitLink;
using cpu::riscv::Translation;

// Assembler errors (an operand combination the encoder refuses) are
// recorded, and the block is then left to the interpreter.
class ErrorFlag : public asmjit::ErrorHandler {
 public:
  void handleError(asmjit::Error, const char*, asmjit::BaseEmitter*) override { failed = true; }
  bool failed = false;
};

class X86Compiler final : public cpu::riscv::BlockCompiler {
 public:
  X86Compiler(const cpu::riscv::HartLayout& layout, CodeCache cache)
      : layout_(layout), cache_(std::move(cache)) {}

  Translation compile(const BlockSource& source) override {
    asmjit::CodeHolder code;
    code.init(asmjit::Environment::host());
    ErrorFlag errors;
    code.setErrorHandler(&errors);
    asmjit::x86::Assembler assembler(&code);
    asmjit::Label chain_entry;
    if (!emit_block(assembler, layout_, source, chain_entry) || errors.failed) return {};
    auto* start = static_cast<uint8_t*>(cache_.add(code));
    if (!start) return {};
    return {reinterpret_cast<CompiledBlock>(start), start + code.labelOffsetFromBase(chain_entry)};
  }

  void link(const ExitLink* exit, const ExitLink& value) override {
    std::memcpy(cache_.writable(exit), &value, sizeof(value));
  }

  void flush() override { cache_.clear(); }

 private:
  const cpu::riscv::HartLayout layout_;
  CodeCache cache_;
};

}  // namespace

Result<std::unique_ptr<cpu::riscv::BlockCompiler>> make_x86_compiler(
    const cpu::riscv::HartLayout& layout, size_t code_cache_size) {
#if !defined(__x86_64__)
  return Error("the JIT makes x86-64 code: use --cpu interp on this host");
#endif
  TRY_ASSIGN(CodeCache cache, CodeCache::create(code_cache_size));
  return std::unique_ptr<cpu::riscv::BlockCompiler>(
      std::make_unique<X86Compiler>(layout, std::move(cache)));
}

}  // namespace vessel::jit
