#include "net/nic_config.h"

#include <arpa/inet.h>
#include <net/if.h>

#include <charconv>
#include <cstdio>

namespace vessel::net {
namespace {

Result<in_addr> parse_ipv4(std::string_view text, std::string_view what) {
  in_addr addr{};
  std::string s(text);
  if (inet_pton(AF_INET, s.c_str(), &addr) != 1) {
    return Error(std::string(what) + " '" + s + "' is not an IPv4 address");
  }
  return addr;
}

Result<unsigned> parse_number(std::string_view text, unsigned max, std::string_view what) {
  unsigned value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || value > max) {
    return Error(std::string(what) + " '" + std::string(text) + "' is not a number from 0 to " +
                 std::to_string(max));
  }
  return value;
}

Result<bool> parse_on_off(std::string_view key, std::string_view value) {
  if (value == "on" || value == "yes" || value == "true") return true;
  if (value == "off" || value == "no" || value == "false") return false;
  return Error(std::string(key) + "=" + std::string(value) + ": expected on or off");
}

Result<MacAddress> parse_mac(std::string_view text) {
  MacAddress mac{};
  unsigned b[6];
  char tail = 0;
  std::string s(text);
  if (std::sscanf(s.c_str(), "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5],
                  &tail) != 6 ||
      s.size() != 17) {
    return Error("mac=" + s + ": expected six hexadecimal bytes, e.g. 52:54:00:12:34:56");
  }
  for (int i = 0; i < 6; ++i) mac[i] = static_cast<uint8_t>(b[i]);
  // An Ethernet address with the group bit set cannot be a station address.
  if (mac[0] & 1) return Error("mac=" + s + " is a multicast address");
  return mac;
}

// "ADDR:PORT" with an optional address.
Result<void> parse_endpoint(std::string_view text, in_addr& addr, uint16_t& port,
                            std::string_view what) {
  size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) {
    return Error(std::string(what) + " '" + std::string(text) + "' is not [ADDR]:PORT");
  }
  if (colon > 0) {
    TRY_ASSIGN(addr, parse_ipv4(text.substr(0, colon), what));
  }
  TRY_ASSIGN(unsigned p, parse_number(text.substr(colon + 1), 65535, std::string(what) + " port"));
  port = static_cast<uint16_t>(p);
  return Ok();
}

in_addr host_in(in_addr network, uint32_t index) {
  return in_addr{htonl(ntohl(network.s_addr) | index)};
}

bool inside(in_addr addr, in_addr network, unsigned prefix) {
  uint32_t mask = prefix == 0 ? 0 : ~uint32_t{0} << (32 - prefix);
  return (ntohl(addr.s_addr) & mask) == ntohl(network.s_addr);
}

Result<void> finish_user(UserNetConfig& user, bool host_given, bool dhcp_given, bool dns_given) {
  uint32_t mask = user.prefix == 0 ? 0 : ~uint32_t{0} << (32 - user.prefix);
  if (user.prefix > 30 || user.prefix < 8) {
    return Error("net=: the prefix length must be between 8 and 30");
  }
  if (ntohl(user.network.s_addr) & ~mask) {
    char buf[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &user.network, buf, sizeof buf);
    return Error(std::string("net=") + buf + "/" + std::to_string(user.prefix) +
                 ": host bits are set in the network address");
  }
  if (!host_given) user.host = host_in(user.network, 2);
  if (!dhcp_given) user.dhcp_start = host_in(user.network, 15);
  if (!dns_given) user.dns = host_in(user.network, 3);
  for (auto [addr, name] : {std::pair{user.host, "host"}, std::pair{user.dhcp_start, "dhcpstart"},
                            std::pair{user.dns, "dns"}}) {
    if (!inside(addr, user.network, user.prefix)) {
      return Error(std::string(name) + "= lies outside net=");
    }
  }
  return Ok();
}

}  // namespace

MacAddress default_mac(unsigned nic_index) {
  return {0x52, 0x54, 0x00, 0x12, 0x34, static_cast<uint8_t>(0x56 + nic_index)};
}

std::string format_mac(const MacAddress& mac) {
  char buf[18];
  std::snprintf(buf, sizeof buf, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3],
                mac[4], mac[5]);
  return buf;
}

Result<HostForward> parse_host_forward(std::string_view text) {
  HostForward fwd;
  fwd.spec = std::string(text);
  std::string_view rest = text;
  size_t colon = rest.find(':');
  if (colon == std::string_view::npos) {
    return Error("hostfwd=" + fwd.spec +
                 ": expected [tcp|udp]:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT");
  }
  std::string_view proto = rest.substr(0, colon);
  if (proto == "udp") {
    fwd.udp = true;
  } else if (proto != "tcp" && !proto.empty()) {
    return Error("hostfwd=" + fwd.spec + ": protocol '" + std::string(proto) +
                 "' is not tcp or udp");
  }
  rest.remove_prefix(colon + 1);
  size_t dash = rest.find('-');
  if (dash == std::string_view::npos) {
    return Error("hostfwd=" + fwd.spec + ": expected HOSTPORT-[GUESTADDR]:GUESTPORT");
  }
  Result<void> host = parse_endpoint(rest.substr(0, dash), fwd.host_addr, fwd.host_port, "host");
  if (!host) return Error("hostfwd=" + fwd.spec + ": " + host.error().message());
  Result<void> guest =
      parse_endpoint(rest.substr(dash + 1), fwd.guest_addr, fwd.guest_port, "guest");
  if (!guest) return Error("hostfwd=" + fwd.spec + ": " + guest.error().message());
  if (fwd.guest_port == 0) return Error("hostfwd=" + fwd.spec + ": the guest port must not be 0");
  return fwd;
}

Result<NicConfig> parse_nic(std::string_view text) {
  NicConfig nic;
  size_t comma = text.find(',');
  std::string_view kind = text.substr(0, comma);
  if (kind == "none") {
    nic.kind = NicConfig::Kind::kNone;
  } else if (kind == "user") {
    nic.kind = NicConfig::Kind::kUser;
  } else if (kind == "tap") {
    nic.kind = NicConfig::Kind::kTap;
  } else if (kind == "bridge") {
    nic.kind = NicConfig::Kind::kBridge;
  } else {
    return Error("unknown network backend '" + std::string(kind) +
                 "' (expected user, tap, bridge or none)");
  }

  UserNetConfig& user = nic.user;
  user.network = in_addr{htonl(0x0a000200)};  // 10.0.2.0/24
  bool host_given = false, dhcp_given = false, dns_given = false;
  while (comma != std::string_view::npos) {
    text.remove_prefix(comma + 1);
    comma = text.find(',');
    std::string_view option = text.substr(0, comma);
    size_t eq = option.find('=');
    std::string_view key = option.substr(0, eq);
    if (eq == std::string_view::npos)
      return Error("'" + std::string(option) + "' is not KEY=VALUE");
    std::string_view value = option.substr(eq + 1);
    bool user_kind = nic.kind == NicConfig::Kind::kUser;
    if (key == "mac") {
      TRY_ASSIGN(nic.mac, parse_mac(value));
      nic.mac_given = true;
    } else if (key == "ifname" && nic.kind == NicConfig::Kind::kTap) {
      if (value.empty() || value.size() >= IFNAMSIZ) {
        return Error("ifname=" + std::string(value) + ": not a network interface name");
      }
      nic.ifname = std::string(value);
    } else if (key == "br" && nic.kind == NicConfig::Kind::kBridge) {
      if (value.empty() || value.size() >= IFNAMSIZ) {
        return Error("br=" + std::string(value) + ": not a network interface name");
      }
      nic.bridge = std::string(value);
    } else if (key == "net" && user_kind) {
      size_t slash = value.find('/');
      TRY_ASSIGN(user.network, parse_ipv4(value.substr(0, slash), "net="));
      if (slash != std::string_view::npos) {
        TRY_ASSIGN(user.prefix, parse_number(value.substr(slash + 1), 32, "net= prefix length"));
      }
    } else if (key == "host" && user_kind) {
      TRY_ASSIGN(user.host, parse_ipv4(value, "host="));
      host_given = true;
    } else if (key == "dhcpstart" && user_kind) {
      TRY_ASSIGN(user.dhcp_start, parse_ipv4(value, "dhcpstart="));
      dhcp_given = true;
    } else if (key == "dns" && user_kind) {
      TRY_ASSIGN(user.dns, parse_ipv4(value, "dns="));
      dns_given = true;
    } else if (key == "restrict" && user_kind) {
      TRY_ASSIGN(user.restrict, parse_on_off(key, value));
    } else if (key == "ipv6" && user_kind) {
      TRY_ASSIGN(user.ipv6, parse_on_off(key, value));
    } else if (key == "hostfwd" && user_kind) {
      TRY_ASSIGN(HostForward fwd, parse_host_forward(value));
      user.forwards.push_back(std::move(fwd));
    } else {
      return Error("unknown option '" + std::string(key) + "' for a " + std::string(kind) +
                   " network");
    }
  }
  if (nic.kind == NicConfig::Kind::kUser) TRY(finish_user(user, host_given, dhcp_given, dns_given));
  if (nic.kind == NicConfig::Kind::kTap && nic.ifname.empty()) {
    return Error("tap: ifname=NAME is required");
  }
  if (nic.kind == NicConfig::Kind::kBridge && nic.bridge.empty()) {
    return Error("bridge: br=BRIDGE is required");
  }
  if (nic.kind == NicConfig::Kind::kNone && nic.mac_given) {
    return Error("none: a NIC that is not there has no MAC address");
  }
  return nic;
}

}  // namespace vessel::net
