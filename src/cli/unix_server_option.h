// A listening Unix socket as QEMU's character devices spell it, shared by
// `--qmp` and `--serial`: unix:PATH,server[=on][,wait=on|off] (also QEMU's
// older `nowait`). Vessel only listens, so `server` is required: without it
// QEMU would connect to PATH as a client.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "base/result.h"
#include "cli/options.h"

namespace vessel::cli {

struct UnixServerOption {
  std::string path;
  bool wait = true;  // QEMU's default: the VM starts once a client connects
};

// Offered each item that is not the socket's own; returns whether it took it.
using ExtraOption = std::function<Result<bool>(const SubOption& option)>;

// `expected` lists every accepted item, for the error about an unknown one.
Result<UnixServerOption> parse_unix_server(std::string_view text, std::string_view expected,
                                           const ExtraOption& extra = {});

}  // namespace vessel::cli
