// Sizes for people, the way QEMU prints them.
#pragma once

#include <cstdint>
#include <string>

namespace vessel {

// "1 GiB", "192 KiB", "1.5 MiB": QEMU's size_to_str (3 significant digits,
// binary units), as in qemu-img info and the monitor's snapshot tables.
std::string human_size(uint64_t bytes);

}  // namespace vessel
