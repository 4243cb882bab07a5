// A listening Unix stream socket at a path, for the control and console
// sockets (`--qmp`, `--serial unix:`).
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>

#include "base/result.h"

namespace vessel::vmm {

// Binds a non-blocking, close-on-exec socket to `path` (an old socket file
// there is replaced, as QEMU does) and listens with `backlog`. With `mode`
// the file gets it before any client can connect. Returns the socket.
Result<int> listen_unix(const std::string& path, int backlog,
                        std::optional<mode_t> mode = std::nullopt);

}  // namespace vessel::vmm
