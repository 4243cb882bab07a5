// A virtual network as libvirt's network XML describes it
// (https://libvirt.org/formatnetwork.html), reduced to the three forward
// modes Vessel builds on its NIC backends:
//   nat       (<forward mode='nat'/>): user-mode NAT (libslirp) per VM, on
//             the network's addresses; the guest reaches out, nothing in
//   isolated  (no <forward>): the same addresses, cut off from everything
//             (user mode with restrict=on)
//   bridge    (<forward mode='bridge'/><bridge name='BR'/>): a TAP port on
//             an existing host bridge
// VMs on a nat or isolated network each have a NAT of their own: they do
// not see each other, unlike on libvirt's virbrN. A bridge network joins them.
#pragma once

#include <string>

#include "base/result.h"
#include "daemon/domain_def.h"

namespace vessel::daemon {

struct NetworkDef {
  enum class Mode { kNat, kIsolated, kBridge };
  std::string name;
  Uuid uuid{};
  Mode mode = Mode::kNat;
  std::string bridge;   // the host bridge (bridge mode), or the name kept for clients
  std::string address;  // the host's address on the network (nat, isolated)
  unsigned prefix = 24;
  std::string dhcp_start;  // first address handed out
  std::string dhcp_end;
};

Result<NetworkDef> parse_network_xml(const std::string& xml);
std::string format_network_xml(const NetworkDef& def);

// libvirt's network "default": NAT on 192.168.122.0/24.
NetworkDef default_network();

// The `vessel run --nic` value that puts a NIC with `mac` on the network.
std::string nic_option(const NetworkDef& def, const std::string& mac);

}  // namespace vessel::daemon
