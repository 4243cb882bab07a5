// Where libvirt's clients find a daemon: a system daemon's sockets under
// /run/libvirt, a session daemon's under $XDG_RUNTIME_DIR/libvirt, or the
// socket a connection URI names with `?socket=`.
#pragma once

#include <string>

#include "base/result.h"

namespace vessel::daemon {

// The read-write socket of `daemon` ("virtvesseld", "virtqemud").
std::string default_socket(bool session, const std::string& daemon);

// A local connection URI, as virsh takes it: vessel[+unix]:///system or
// ///session (qemu[+unix]:/// for the alias), with an optional
// `?socket=PATH`.
struct LocalUri {
  std::string socket;
  std::string name;  // what CONNECT_OPEN is given: the URI without transport and query
};
Result<LocalUri> parse_local_uri(const std::string& uri);

}  // namespace vessel::daemon
