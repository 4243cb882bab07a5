// --nic parsing: QEMU's syntax and defaults, and one-line errors naming the
// bad part.
#include "net/nic_config.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <string>

namespace vessel::net {
namespace {

std::string ip(in_addr addr) {
  char buf[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &addr, buf, sizeof buf);
  return buf;
}

NicConfig parse_ok(std::string_view text) {
  Result<NicConfig> nic = parse_nic(text);
  EXPECT_TRUE(nic.ok()) << text << ": " << nic.error().message();
  return nic.ok() ? nic.value() : NicConfig{};
}

// The error message for `text`, which must not parse.
std::string parse_error(std::string_view text) {
  Result<NicConfig> nic = parse_nic(text);
  EXPECT_FALSE(nic.ok()) << text;
  return nic.ok() ? std::string() : nic.error().message();
}

std::string forward_error(std::string_view text) {
  Result<HostForward> fwd = parse_host_forward(text);
  EXPECT_FALSE(fwd.ok()) << text;
  return fwd.ok() ? std::string() : fwd.error().message();
}

#define EXPECT_MENTIONS(message, part) \
  EXPECT_NE((message).find(part), std::string::npos) << (message)

TEST(NicConfig, UserDefaults) {
  NicConfig nic = parse_ok("user");
  EXPECT_EQ(nic.kind, NicConfig::Kind::kUser);
  EXPECT_FALSE(nic.mac_given);
  EXPECT_EQ(ip(nic.user.network), "10.0.2.0");
  EXPECT_EQ(nic.user.prefix, 24u);
  EXPECT_EQ(ip(nic.user.host), "10.0.2.2");
  EXPECT_EQ(ip(nic.user.dhcp_start), "10.0.2.15");
  EXPECT_EQ(ip(nic.user.dns), "10.0.2.3");
  EXPECT_FALSE(nic.user.restrict);
  EXPECT_TRUE(nic.user.ipv6);
  EXPECT_TRUE(nic.user.forwards.empty());
}

TEST(NicConfig, UserNetworkMovesTheDefaults) {
  NicConfig nic = parse_ok("user,net=192.168.76.0/22");
  EXPECT_EQ(ip(nic.user.network), "192.168.76.0");
  EXPECT_EQ(nic.user.prefix, 22u);
  EXPECT_EQ(ip(nic.user.host), "192.168.76.2");
  EXPECT_EQ(ip(nic.user.dhcp_start), "192.168.76.15");
  EXPECT_EQ(ip(nic.user.dns), "192.168.76.3");

  nic = parse_ok("user,net=10.1.0.0,host=10.1.0.1,dhcpstart=10.1.0.100,dns=10.1.0.53");
  EXPECT_EQ(nic.user.prefix, 24u);
  EXPECT_EQ(ip(nic.user.host), "10.1.0.1");
  EXPECT_EQ(ip(nic.user.dhcp_start), "10.1.0.100");
  EXPECT_EQ(ip(nic.user.dns), "10.1.0.53");
}

TEST(NicConfig, UserNetworkErrors) {
  EXPECT_MENTIONS(parse_error("user,net=10.0.2.1/24"), "host bits");
  EXPECT_MENTIONS(parse_error("user,net=10.0.0.0/31"), "prefix");
  EXPECT_MENTIONS(parse_error("user,net=10.0.0.0/33"), "prefix");
  EXPECT_MENTIONS(parse_error("user,net=10.0.2"), "not an IPv4 address");
  EXPECT_MENTIONS(parse_error("user,host=10.0.3.2"), "host=");
  EXPECT_MENTIONS(parse_error("user,dhcpstart=192.168.0.15"), "dhcpstart=");
  EXPECT_MENTIONS(parse_error("user,dns=nameserver"), "dns=");
}

TEST(NicConfig, RestrictAndIpv6) {
  EXPECT_TRUE(parse_ok("user,restrict=on").user.restrict);
  EXPECT_TRUE(parse_ok("user,restrict=yes").user.restrict);
  EXPECT_FALSE(parse_ok("user,restrict=off").user.restrict);
  EXPECT_FALSE(parse_ok("user,ipv6=off").user.ipv6);
  EXPECT_MENTIONS(parse_error("user,restrict=maybe"), "restrict=maybe");
  EXPECT_MENTIONS(parse_error("user,restrict"), "KEY=VALUE");
}

TEST(NicConfig, HostForwardShortForm) {
  Result<HostForward> fwd = parse_host_forward("tcp::2222-:23");
  ASSERT_TRUE(fwd.ok()) << fwd.error().message();
  EXPECT_FALSE(fwd->udp);
  EXPECT_EQ(fwd->host_addr.s_addr, INADDR_ANY);
  EXPECT_EQ(fwd->host_port, 2222);
  EXPECT_EQ(fwd->guest_addr.s_addr, INADDR_ANY);
  EXPECT_EQ(fwd->guest_port, 23);
  EXPECT_EQ(fwd->spec, "tcp::2222-:23");
}

TEST(NicConfig, HostForwardFullForm) {
  Result<HostForward> fwd = parse_host_forward("udp:127.0.0.1:5353-10.0.2.15:53");
  ASSERT_TRUE(fwd.ok()) << fwd.error().message();
  EXPECT_TRUE(fwd->udp);
  EXPECT_EQ(ip(fwd->host_addr), "127.0.0.1");
  EXPECT_EQ(fwd->host_port, 5353);
  EXPECT_EQ(ip(fwd->guest_addr), "10.0.2.15");
  EXPECT_EQ(fwd->guest_port, 53);
}

TEST(NicConfig, HostForwardWithoutProtocolIsTcp) {
  Result<HostForward> fwd = parse_host_forward(":127.0.0.1:8080-:80");
  ASSERT_TRUE(fwd.ok()) << fwd.error().message();
  EXPECT_FALSE(fwd->udp);
  EXPECT_EQ(fwd->host_port, 8080);
  // Host port 0: any free port, as QEMU.
  ASSERT_TRUE(parse_host_forward("tcp::0-:22").ok());
}

TEST(NicConfig, HostForwardMissingParts) {
  EXPECT_MENTIONS(forward_error("tcp"), "expected");
  EXPECT_MENTIONS(forward_error("tcp:2222"), "HOSTPORT-");
  EXPECT_MENTIONS(forward_error("tcp::2222-23"), "guest");
  EXPECT_MENTIONS(forward_error("tcp::2222-"), "guest");
  EXPECT_MENTIONS(forward_error("tcp:2222-:23"), "host");
  EXPECT_MENTIONS(forward_error("tcp::-:23"), "host port");
  EXPECT_MENTIONS(forward_error("tcp::2222-:"), "guest port");
  EXPECT_MENTIONS(forward_error("sctp::2222-:23"), "'sctp'");
  EXPECT_MENTIONS(forward_error("tcp:localhost:2222-:23"), "localhost");
}

TEST(NicConfig, HostForwardBadPorts) {
  EXPECT_MENTIONS(forward_error("tcp::65536-:23"), "65535");
  EXPECT_MENTIONS(forward_error("tcp::2222-:70000"), "70000");
  EXPECT_MENTIONS(forward_error("tcp::-1-:23"), "port");
  EXPECT_MENTIONS(forward_error("tcp::22x-:23"), "22x");
  EXPECT_MENTIONS(forward_error("tcp::2222-:0"), "guest port must not be 0");
  EXPECT_TRUE(parse_host_forward("tcp::65535-:65535").ok());
}

TEST(NicConfig, HostForwardsInANic) {
  NicConfig nic =
      parse_ok("user,hostfwd=tcp::2222-:22,hostfwd=udp:127.0.0.1:5353-10.0.2.15:53,restrict=on");
  ASSERT_EQ(nic.user.forwards.size(), 2u);
  EXPECT_EQ(nic.user.forwards[0].host_port, 2222);
  EXPECT_TRUE(nic.user.forwards[1].udp);
  EXPECT_TRUE(nic.user.restrict);
  // The error names the forward.
  EXPECT_MENTIONS(parse_error("user,hostfwd=tcp::99999-:22"), "hostfwd=tcp::99999-:22");
}

TEST(NicConfig, Mac) {
  NicConfig nic = parse_ok("user,mac=02:AB:cd:00:11:ff");
  EXPECT_TRUE(nic.mac_given);
  EXPECT_EQ(nic.mac, (MacAddress{0x02, 0xab, 0xcd, 0x00, 0x11, 0xff}));
  EXPECT_EQ(format_mac(nic.mac), "02:ab:cd:00:11:ff");
  EXPECT_TRUE(parse_ok("tap,ifname=tap0,mac=52:54:00:00:00:01").mac_given);
  EXPECT_MENTIONS(parse_error("user,mac=01:00:5e:00:00:01"), "multicast");
  EXPECT_MENTIONS(parse_error("user,mac=52:54:00:12:34"), "six hexadecimal bytes");
  EXPECT_MENTIONS(parse_error("user,mac=52:54:00:12:34:56:78"), "six hexadecimal bytes");
  EXPECT_MENTIONS(parse_error("user,mac=52-54-00-12-34-56"), "six hexadecimal bytes");
  EXPECT_MENTIONS(parse_error("user,mac=52:54:00:12:34:5g"), "six hexadecimal bytes");
  EXPECT_MENTIONS(parse_error("none,mac=52:54:00:12:34:56"), "none");
}

TEST(NicConfig, DefaultMacs) {
  EXPECT_EQ(format_mac(default_mac(0)), "52:54:00:12:34:56");
  EXPECT_EQ(format_mac(default_mac(1)), "52:54:00:12:34:57");
}

TEST(NicConfig, UnknownOptionsAndBackends) {
  EXPECT_MENTIONS(parse_error("user,speed=100"), "unknown option 'speed'");
  // Options of one backend are unknown to the others.
  EXPECT_MENTIONS(parse_error("user,ifname=tap0"), "unknown option 'ifname'");
  EXPECT_MENTIONS(parse_error("tap,ifname=tap0,hostfwd=tcp::2222-:22"), "unknown option 'hostfwd'");
  EXPECT_MENTIONS(parse_error("bridge,br=br0,net=10.0.0.0/8"), "unknown option 'net'");
  EXPECT_MENTIONS(parse_error("socket"), "unknown network backend 'socket'");
  EXPECT_MENTIONS(parse_error(""), "unknown network backend");
  EXPECT_MENTIONS(parse_error("user,"), "KEY=VALUE");
}

TEST(NicConfig, TapNeedsIfname) {
  NicConfig nic = parse_ok("tap,ifname=vessel-tap0");
  EXPECT_EQ(nic.kind, NicConfig::Kind::kTap);
  EXPECT_EQ(nic.ifname, "vessel-tap0");
  EXPECT_MENTIONS(parse_error("tap"), "ifname=NAME is required");
  EXPECT_MENTIONS(parse_error("tap,ifname="), "ifname=");
  EXPECT_MENTIONS(parse_error("tap,ifname=a-name-far-too-long"), "not a network interface name");
}

TEST(NicConfig, BridgeNeedsBr) {
  NicConfig nic = parse_ok("bridge,br=br0");
  EXPECT_EQ(nic.kind, NicConfig::Kind::kBridge);
  EXPECT_EQ(nic.bridge, "br0");
  EXPECT_MENTIONS(parse_error("bridge"), "br=BRIDGE is required");
  EXPECT_MENTIONS(parse_error("bridge,br="), "br=");
  EXPECT_MENTIONS(parse_error("bridge,ifname=tap0"), "unknown option 'ifname'");
}

TEST(NicConfig, None) {
  EXPECT_EQ(parse_ok("none").kind, NicConfig::Kind::kNone);
  EXPECT_MENTIONS(parse_error("none,restrict=on"), "unknown option");
}

}  // namespace
}  // namespace vessel::net
