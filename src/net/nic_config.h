// What a guest NIC is connected to, as `vessel run --nic` spells it (QEMU's
// -nic syntax and defaults):
//
//   user[,net=ADDR/PREFIX][,host=ADDR][,dhcpstart=ADDR][,dns=ADDR]
//       [,hostfwd=[tcp|udp]:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT]...
//       [,restrict=on|off][,ipv6=on|off]
//   tap,ifname=NAME
//   bridge,br=BRIDGE
//   none
//
// each optionally with mac=XX:XX:XX:XX:XX:XX. Parsing only checks syntax;
// opening the backend checks the host (ports, devices, privileges).
#pragma once

#include <netinet/in.h>

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace vessel::net {

using MacAddress = std::array<uint8_t, 6>;

// QEMU's first NIC gets 52:54:00:12:34:56, the next ...:57, and so on.
MacAddress default_mac(unsigned nic_index);
std::string format_mac(const MacAddress& mac);

struct HostForward {
  bool udp = false;
  in_addr host_addr = {};  // INADDR_ANY when not given, as QEMU
  uint16_t host_port = 0;
  in_addr guest_addr = {};  // INADDR_ANY: the first DHCP address
  uint16_t guest_port = 0;
  std::string spec;  // as written, for error messages
};

struct UserNetConfig {
  in_addr network = {};  // 10.0.2.0
  unsigned prefix = 24;
  in_addr host = {};        // 10.0.2.2: the host as the guest sees it
  in_addr dhcp_start = {};  // 10.0.2.15
  in_addr dns = {};         // 10.0.2.3
  bool restrict = false;    // no traffic out of the guest but the forwards
  bool ipv6 = true;
  std::vector<HostForward> forwards;
};

struct NicConfig {
  enum class Kind : uint8_t { kNone, kUser, kTap, kBridge };
  Kind kind = Kind::kNone;
  MacAddress mac = {};
  bool mac_given = false;
  UserNetConfig user;
  std::string ifname;  // kTap: the TAP device
  std::string bridge;  // kBridge: the bridge the new TAP joins
};

// Parses one --nic value; errors are one line naming the bad part.
Result<NicConfig> parse_nic(std::string_view text);
// "tcp:127.0.0.1:2222-:23" (the part after hostfwd=).
Result<HostForward> parse_host_forward(std::string_view text);

}  // namespace vessel::net
