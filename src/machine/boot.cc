#include "machine/boot.h"

#include <algorithm>

#include "machine/device_tree.h"

namespace vessel::machine {
namespace {

constexpr uint64_t kMiB = uint64_t{1} << 20;
// The DTB stays below 3 GiB so 32-bit-addressing code can still reach it
// (QEMU's riscv_compute_fdt_addr).
constexpr uint64_t kDtbCeiling = uint64_t{3} << 30;
constexpr uint64_t kDtbAlignment = 2 * kMiB;

constexpr uint64_t align_down(uint64_t v, uint64_t a) {
  return v & ~(a - 1);
}
constexpr uint64_t align_up(uint64_t v, uint64_t a) {
  return (v + a - 1) & ~(a - 1);
}

bool overlaps(const LoadedImage& a, const LoadedImage& b) {
  return a.start < b.end && b.start < a.end;
}

Error too_small(uint64_t ram_size, uint64_t needed) {
  return Error("guest RAM of " + std::to_string(ram_size / kMiB) +
               " MiB is too small for the boot images (they need at least " +
               std::to_string(align_up(needed, kMiB) / kMiB) + " MiB)");
}

}  // namespace

Result<BootInfo> load_boot_images(memory::AddressSpace& bus, const BoardConfig& config) {
  const uint64_t ram_base = bus.ram_base();
  const uint64_t ram_end = ram_base + bus.ram_size();
  BootInfo info;

  TRY_ASSIGN(info.firmware, load_firmware(bus, config.firmware));
  uint64_t images_end = info.firmware.end;
  if (!config.kernel.empty()) {
    TRY_ASSIGN(LoadedImage kernel,
               load_kernel(bus, config.kernel, kernel_address(info.firmware.end)));
    if (overlaps(kernel, info.firmware)) {
      return Error(config.kernel + ": kernel overlaps the firmware in guest RAM");
    }
    images_end = std::max(images_end, kernel.end);
    info.kernel = kernel;
  }
  uint64_t initrd_size = 0;
  if (!config.initrd.empty()) {
    TRY_ASSIGN(initrd_size, image_file_size(config.initrd));
  }

  DeviceTreeSpec spec;
  spec.harts = config.harts;
  spec.ram_base = ram_base;
  spec.ram_size = bus.ram_size();
  spec.bootargs = config.append;
  spec.rng_seed = random_rng_seed();
  // The tree's size does not depend on the initrd's address, only on whether
  // there is one: measure first, place, then write the real thing.
  if (!config.initrd.empty()) spec.initrd = DeviceTreeSpec::Range{0, 0};
  TRY_ASSIGN(std::vector<uint8_t> probe, build_device_tree(spec));
  const uint64_t dtb_size = probe.size();
  const uint64_t reserve = align_up(dtb_size, 8) + sizeof(FwDynamicInfo);

  // Top-down: DTB + fw_dynamic_info at the top, the initrd below them.
  uint64_t top = ram_base < kDtbCeiling ? std::min(ram_end, kDtbCeiling) : ram_end;
  if (top < images_end + align_up(initrd_size, memory::kPageSize) + reserve) top = ram_end;
  const uint64_t needed = images_end - ram_base + align_up(initrd_size, memory::kPageSize) +
                          reserve + memory::kPageSize;
  if (images_end > top || top - images_end < align_up(initrd_size, memory::kPageSize) + reserve) {
    return too_small(bus.ram_size(), needed);
  }
  uint64_t dtb = align_down(top - reserve, kDtbAlignment);
  if (dtb < images_end || dtb - images_end < initrd_size) {
    dtb = align_down(top - reserve, memory::kPageSize);  // small RAM: pack tightly
  }
  if (dtb < images_end || dtb - images_end < initrd_size) return too_small(bus.ram_size(), needed);

  if (!config.initrd.empty()) {
    uint64_t start = align_down(dtb - initrd_size, memory::kPageSize);
    if (start < images_end) return too_small(bus.ram_size(), needed);
    TRY_ASSIGN(LoadedImage initrd, load_blob(bus, config.initrd, start));
    spec.initrd = DeviceTreeSpec::Range{initrd.start, initrd.end};
    info.initrd = initrd;
  }

  TRY_ASSIGN(std::vector<uint8_t> blob, build_device_tree(spec));
  if (blob.size() != dtb_size) return Error("device tree changed size while being placed");
  if (!bus.write_bytes(dtb, blob.data(), blob.size())) return too_small(bus.ram_size(), needed);
  info.dtb_address = dtb;
  info.dtb_size = dtb_size;

  FwDynamicInfo fw_info;
  // Without a kernel, point OpenSBI where one would be (QEMU does the same
  // with its ROM's copy); bare-metal programs never read it.
  fw_info.next_addr = info.kernel ? info.kernel->entry : kernel_address(info.firmware.end);
  info.fw_dynamic_info_address = dtb + align_up(dtb_size, 8);
  if (!bus.write_bytes(info.fw_dynamic_info_address, &fw_info, sizeof fw_info)) {
    return too_small(bus.ram_size(), needed);
  }
  return info;
}

}  // namespace vessel::machine
