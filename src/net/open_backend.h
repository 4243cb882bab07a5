// Opens the host side of a NIC as configured; errors are one line naming
// what the host refused (a port in use, a missing TAP, missing privileges).
#pragma once

#include <memory>

#include "base/result.h"
#include "net/net_backend.h"
#include "net/nic_config.h"

namespace vessel::net {

// `nic.kind` must not be kNone.
Result<std::unique_ptr<NetBackend>> open_backend(const NicConfig& nic);

}  // namespace vessel::net
