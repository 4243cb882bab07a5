// What a `virt` board is built from: sizes, images and host resources. The
// board validates it (Board::create); callers only fill it in.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "block/image_format.h"
#include "net/nic_config.h"

namespace vessel::machine {

struct DiskConfig {
  std::string path;
  bool read_only = false;
  block::ImageFormat format = block::ImageFormat::kRaw;  // given, never probed
};

// Why the guest asked the board to stop (the test/syscon device, QEMU's
// sifive_test semantics).
struct PowerEvent {
  enum class Kind : uint8_t { kPowerOff, kReset, kFail };
  Kind kind = Kind::kPowerOff;
  uint16_t code = 0;  // for kFail: the guest's failure code
};

// How the harts run guest code: the interpreter (the reference, on any
// host) or translated to host code (x86-64 hosts).
enum class CpuEngine : uint8_t { kInterpreter, kJit };
#if defined(__x86_64__)
constexpr CpuEngine kDefaultCpuEngine = CpuEngine::kJit;
#else
constexpr CpuEngine kDefaultCpuEngine = CpuEngine::kInterpreter;
#endif

struct BoardConfig {
  uint64_t memory_size = uint64_t{512} << 20;
  unsigned harts = 1;
  CpuEngine cpu = kDefaultCpuEngine;
  std::optional<uint64_t> code_cache_size;  // per hart, for kJit; unset: the JIT's default
  bool jit_perf_map = false;                // kJit names its code for profilers
  std::optional<unsigned> jit_hot_runs;     // kJit: interpreted runs before a block is
                                            // translated; unset: cpu::riscv::kDefaultHotRuns
  std::string firmware;           // ELF (PT_LOAD at physical addresses) or raw binary at RAM base
  std::string kernel;             // optional: ELF, U-Boot image or raw (Linux Image), S-mode
  std::string initrd;             // optional, needs a kernel
  std::string append;             // kernel command line (/chosen/bootargs)
  std::vector<DiskConfig> disks;  // virtio-blk, one virtio-mmio slot each
  std::vector<net::NicConfig> nics;  // virtio-net after the disks (kNone: skipped)
  bool rng = true;                   // a virtio-rng in the first slot after those

  // Bytes the guest writes to UART0. Called on vCPU threads.
  std::function<void(uint8_t)> serial_output;
  // Power-off / reset / failure requests from the guest. Called on vCPU threads.
  std::function<void(PowerEvent)> power;
};

}  // namespace vessel::machine
