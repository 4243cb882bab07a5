// The `vessel run` command line that runs a domain definition.
#pragma once

#include <string>
#include <vector>

#include "base/result.h"
#include "daemon/domain_def.h"

namespace vessel::daemon {

struct VmPaths {
  std::string vessel;          // the `vessel` executable
  std::string control_socket;  // its QMP socket
};

// Fails (with libvirt's error kinds) for what only exists in the definition:
// an interface on a network the daemon does not know.
Result<std::vector<std::string>> vm_command(const DomainDef& def, const VmPaths& paths);

}  // namespace vessel::daemon
