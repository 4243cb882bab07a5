// The flattened device tree that describes a `virt` board to firmware and
// kernel. Same structure, node names and compatible strings as QEMU's `virt`
// machine (hw/riscv/virt.c), so OpenSBI's generic platform and Linux's drivers
// find every device without board-specific code.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "base/result.h"
#include "machine/memory_map.h"

namespace vessel::machine {

struct DeviceTreeSpec {
  unsigned harts = 1;
  uint64_t ram_base = 0;
  uint64_t ram_size = 0;
  std::string bootargs;  // omitted from /chosen when empty
  struct Range {
    uint64_t start;
    uint64_t end;  // exclusive
  };
  std::optional<Range> initrd;
  // /chosen/rng-seed: early entropy for the kernel; empty = no property.
  std::vector<uint8_t> rng_seed;
};

// The phandles the tree uses, fixed so tests and tools can follow references.
namespace phandle {
inline constexpr uint32_t kPlic = 1;
inline constexpr uint32_t kTest = 2;
constexpr uint32_t cpu(unsigned hart) {
  return 3 + 2 * hart;
}
constexpr uint32_t cpu_intc(unsigned hart) {
  return 4 + 2 * hart;
}
// After the harts', whatever their number.
inline constexpr uint32_t kGpio = cpu_intc(kMaxHarts - 1) + 1;
}  // namespace phandle

// Builds the blob (version 17, packed). An error only if `spec` is invalid.
Result<std::vector<uint8_t>> build_device_tree(const DeviceTreeSpec& spec);

// Fresh bytes for /chosen/rng-seed from the host's entropy (32, as QEMU
// gives), or none when the host has none to spare: the kernel then gathers
// its own.
std::vector<uint8_t> random_rng_seed();

// Overwrites /chosen/rng-seed in `blob` with `seed`, in place (QEMU's
// qemu_fdt_randomize_seeds at a reset). False, leaving the blob as it was,
// unless the tree has an rng-seed of exactly seed.size() bytes.
bool replace_rng_seed(std::span<uint8_t> blob, std::span<const uint8_t> seed);

}  // namespace vessel::machine
