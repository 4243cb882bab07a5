// The boot images as they lie in guest RAM once loaded: firmware, kernel,
// initrd, device tree and fw_dynamic_info. QEMU keeps its ROM blobs and
// copies them back into RAM at every machine reset; a Board does the same,
// so a reboot starts from the images of the first boot whatever the guest
// overwrote and whatever became of the files since. The rest of RAM keeps
// its contents across a reset, as on QEMU.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "machine/boot.h"
#include "memory/address_space.h"

namespace vessel::machine {

class BootImages {
 public:
  BootImages() = default;
  // Copies what `info` says was loaded. An ELF image is kept from its lowest
  // to its highest byte, gaps between segments included.
  static BootImages capture(const memory::AddressSpace& bus, const BootInfo& info);

  // Writes every image back into RAM (the dirty log sees it), the device
  // tree with a fresh /chosen/rng-seed as QEMU 7.2 gives one at each reset.
  void reload(memory::AddressSpace& bus);

  // Bytes kept.
  uint64_t size() const;

 private:
  struct Blob {
    uint64_t address;
    std::vector<uint8_t> bytes;
  };
  std::vector<Blob> blobs_;
  std::optional<size_t> device_tree_;  // index in blobs_
};

}  // namespace vessel::machine
