// The `vessel run` command line that runs a domain definition.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "base/result.h"
#include "daemon/domain_def.h"

namespace vessel::daemon {

struct VmPaths {
  std::string vessel;          // the `vessel` executable
  std::string control_socket;  // its QMP socket
  std::string serial_socket;   // its serial console, for `virsh console`
  std::string console_log;     // everything the guest writes there, appended
  std::string incoming;        // a saved state to continue from (--incoming), or empty
  std::string loadvm;          // a VM snapshot in its disks to start from (--loadvm), or empty
};

// The --nic value for a NIC (its MAC) on a virtual network (its name), or
// libvirt's error for a network that is unknown or not active.
using NetworkNic = std::function<Result<std::string>(const std::string&, const std::string&)>;

// Fails (with libvirt's error kinds) for what only exists in the definition:
// an interface on a network that cannot take it.
Result<std::vector<std::string>> vm_command(const DomainDef& def, const VmPaths& paths,
                                            const NetworkNic& network_nic);

}  // namespace vessel::daemon
