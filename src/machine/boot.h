// Boot images in guest RAM and the registers the harts start with: QEMU's
// `virt` boot protocol (hw/riscv/boot.c), so OpenSBI's fw_dynamic and Linux
// boot exactly as they do there.
//
//   0x80000000  firmware (ELF segments or raw -bios image)
//   align_up(firmware end, 2 MiB)  kernel (Linux Image, the RV64 convention)
//   ...         free
//   below DTB   initrd
//   top (capped at 3 GiB, 2 MiB aligned)  DTB, then fw_dynamic_info
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "base/result.h"
#include "machine/board_config.h"
#include "machine/loader.h"
#include "memory/address_space.h"

namespace vessel::machine {

// OpenSBI include/sbi/fw_dynamic.h, version 2.
struct FwDynamicInfo {
  static constexpr uint64_t kMagic = 0x4942534f;  // "OSBI"
  static constexpr uint64_t kVersion = 2;
  static constexpr uint64_t kNextModeSupervisor = 1;
  static constexpr uint64_t kAnyBootHart = ~uint64_t{0};

  uint64_t magic = kMagic;
  uint64_t version = kVersion;
  uint64_t next_addr = 0;
  uint64_t next_mode = kNextModeSupervisor;
  uint64_t options = 0;
  uint64_t boot_hart = kAnyBootHart;  // boot-hart lottery
};
static_assert(sizeof(FwDynamicInfo) == 48);

struct BootInfo {
  LoadedImage firmware;
  std::optional<LoadedImage> kernel;
  std::optional<LoadedImage> initrd;
  uint64_t dtb_address = 0;
  uint64_t dtb_size = 0;
  uint64_t fw_dynamic_info_address = 0;

  // Every hart starts in M-mode at the firmware entry with a0 = its hart ID,
  // a1 = the DTB, a2 = fw_dynamic_info (bare-metal programs ignore a2).
  uint64_t entry() const { return firmware.entry; }
};

// Loads firmware, kernel and initrd, writes the DTB and fw_dynamic_info.
// `config` must already be validated by the board.
Result<BootInfo> load_boot_images(memory::AddressSpace& bus, const BoardConfig& config);

// Where the kernel goes after a firmware ending at `firmware_end` (QEMU's
// riscv_calc_kernel_start_addr for RV64).
constexpr uint64_t kKernelAlignment = uint64_t{2} << 20;
constexpr uint64_t kernel_address(uint64_t firmware_end) {
  return (firmware_end + kKernelAlignment - 1) & ~(kKernelAlignment - 1);
}

}  // namespace vessel::machine
