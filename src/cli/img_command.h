// `vessel img`: create, inspect and convert disk images with qemu-img's verbs,
// options, output and exit statuses.
#pragma once

#include <span>
#include <string_view>

namespace vessel::cli {

int img_command(std::span<const std::string_view> args);

}  // namespace vessel::cli
