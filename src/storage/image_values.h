// The values qemu-img's options and image options carry, read as qemu reads
// them (sizes, booleans, "-o" lists), and small facts about image data:
// shared by the image operations and by the command line that names them.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.h"

namespace vessel::storage {

// qemu-img's sizes: a bare number is bytes, decimal or hex ("0x10000");
// suffixes k/K, M, G, T, P, E (powers of 1024) with an optional fraction
// ("1.5G"). "B" alone means bytes.
Result<uint64_t> parse_img_size(std::string_view text);

// The non-empty items of "-o" lists ("key=value,key=value"; each -o adds a
// list), in order, as written.
std::vector<std::string> img_option_items(std::span<const std::string> lists);

// The items of "-o" lists split at their '=', in order. An item without '='
// ("help", "?") comes back with an empty value.
std::vector<std::pair<std::string, std::string>> split_img_options(
    std::span<const std::string> lists);

// qemu's booleans: on/off (also yes/no, true/false), with its error text.
Result<bool> parse_img_bool(std::string_view key, std::string_view value);

// Bytes the file occupies on the host (st_blocks * 512); 0 when unknown.
uint64_t allocated_bytes(const std::string& path);

// The whole-zero test used for sparse detection.
bool is_zero(std::span<const uint8_t> data);

}  // namespace vessel::storage
