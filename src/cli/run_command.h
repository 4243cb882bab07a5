// `vessel run`: boot one VM in the foreground with QEMU-like options.
#pragma once

#include <span>
#include <string_view>

namespace vessel::cli {

// Returns the process exit status (see `vessel run --help`).
int run_command(std::span<const std::string_view> args);

}  // namespace vessel::cli
