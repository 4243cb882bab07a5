// Puts boot images into guest RAM: firmware (ELF or raw, like QEMU's -bios),
// the kernel (ELF, U-Boot image or raw, like QEMU's -kernel) and opaque
// blobs (initrd). Files are
// untrusted input: every header field is checked and every byte lands inside
// guest RAM or the load fails with an error naming the file.
#pragma once

#include <cstdint>
#include <string>

#include "base/result.h"
#include "memory/address_space.h"

namespace vessel::machine {

struct LoadedImage {
  uint64_t entry = 0;
  uint64_t start = 0;  // lowest guest-physical byte the image occupies
  uint64_t end = 0;    // one past the highest (including zero-filled .bss)
};

// ELF64 RISC-V (PT_LOAD segments at their physical addresses, entry =
// e_entry), else a raw binary at the start of RAM entered at its first byte.
Result<LoadedImage> load_firmware(memory::AddressSpace& bus, const std::string& path);

// ELF64 RISC-V; else an uncompressed U-Boot kernel image (uImage) at its
// load address; else the file as a raw image placed at `image_address` and
// entered there — a Linux Image (Documentation/riscv/boot-image-header.rst,
// whose header gives the RAM its .bss takes) or anything else, such as
// U-Boot's u-boot.bin. A gzip file is refused: it would never run raw.
Result<LoadedImage> load_kernel(memory::AddressSpace& bus, const std::string& path,
                                uint64_t image_address);

// The file's bytes at `address`, unchanged.
Result<LoadedImage> load_blob(memory::AddressSpace& bus, const std::string& path, uint64_t address);

// Size of a readable regular file (errors name the file).
Result<uint64_t> image_file_size(const std::string& path);

}  // namespace vessel::machine
