#include "machine/boot_images.h"

#include "machine/device_tree.h"

namespace vessel::machine {

BootImages BootImages::capture(const memory::AddressSpace& bus, const BootInfo& info) {
  BootImages images;
  auto keep = [&](uint64_t start, uint64_t end) {
    const uint8_t* p = bus.ram_ptr(start, end - start);
    if (p == nullptr || end <= start) return;  // the loader placed nothing there
    images.blobs_.push_back({start, std::vector<uint8_t>(p, p + (end - start))});
  };
  keep(info.firmware.start, info.firmware.end);
  if (info.kernel) keep(info.kernel->start, info.kernel->end);
  if (info.initrd) keep(info.initrd->start, info.initrd->end);
  if (info.dtb_size != 0) {
    // The device tree and fw_dynamic_info right after it (boot.cc).
    images.device_tree_ = images.blobs_.size();
    keep(info.dtb_address, info.fw_dynamic_info_address + sizeof(FwDynamicInfo));
    if (images.blobs_.size() == *images.device_tree_) images.device_tree_.reset();
  }
  return images;
}

void BootImages::reload(memory::AddressSpace& bus) {
  if (device_tree_) {
    // Before the copy goes to RAM: the dirty log must see the final bytes.
    std::vector<uint8_t> seed = random_rng_seed();
    if (!seed.empty()) replace_rng_seed(blobs_[*device_tree_].bytes, seed);
  }
  for (const Blob& blob : blobs_)
    bus.write_bytes(blob.address, blob.bytes.data(), blob.bytes.size());
}

uint64_t BootImages::size() const {
  uint64_t total = 0;
  for (const Blob& blob : blobs_) total += blob.bytes.size();
  return total;
}

}  // namespace vessel::machine
