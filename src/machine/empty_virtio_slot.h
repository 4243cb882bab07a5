// A virtio-mmio slot with no device behind it: the transport registers say
// "virtio, version 2, device ID 0", which drivers take as an empty slot
// (virtio 1.2 §4.2.3.1.1) — what QEMU shows for its unused `virt` slots.
#pragma once

#include "memory/mmio.h"

namespace vessel::machine {

class EmptyVirtioSlot final : public memory::MmioHandler {
 public:
  bool mmio_read(uint64_t offset, unsigned size, uint64_t& value) override {
    value = 0;
    if (size != 4) return true;
    switch (offset) {
      case 0x000:
        value = 0x74726976;
        break;  // MagicValue "virt"
      case 0x004:
        value = 2;
        break;  // Version: virtio 1.x transport
      case 0x00c:
        value = 0x554d4551;
        break;  // VendorID, as QEMU
      default:
        break;  // DeviceID 0: no device
    }
    return true;
  }
  bool mmio_write(uint64_t, unsigned, uint64_t) override { return true; }
};

}  // namespace vessel::machine
