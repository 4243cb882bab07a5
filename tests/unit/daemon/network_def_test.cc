#include "daemon/network_def.h"

#include <gtest/gtest.h>

#include "daemon/virt_error.h"

namespace vessel::daemon {
namespace {

TEST(NetworkDef, ForwardModesBecomeNicBackends) {
  auto nat = parse_network_xml(
      "<network><name>n</name><forward/><ip address='10.1.2.1' prefix='16'>"
      "<dhcp><range start='10.1.3.4' end='10.1.3.200'/></dhcp></ip></network>");
  ASSERT_TRUE(nat.ok()) << nat.error().message();
  EXPECT_EQ(nic_option(*nat, "52:54:00:00:00:01"),
            "user,net=10.1.0.0/16,host=10.1.2.1,dhcpstart=10.1.3.4,mac=52:54:00:00:00:01");
  auto isolated = parse_network_xml(
      "<network><name>i</name><ip address='10.9.0.1' netmask='255.255.255.0'/></network>");
  ASSERT_TRUE(isolated.ok()) << isolated.error().message();
  EXPECT_EQ(nic_option(*isolated, "m"), "user,net=10.9.0.0/24,host=10.9.0.1,restrict=on,mac=m");
  auto bridge = parse_network_xml(
      "<network><name>b</name><forward mode='bridge'/><bridge name='br0'/></network>");
  ASSERT_TRUE(bridge.ok()) << bridge.error().message();
  EXPECT_EQ(nic_option(*bridge, "m"), "bridge,br=br0,mac=m");
}

TEST(NetworkDef, RoundTrips) {
  NetworkDef def = default_network();
  std::string xml = format_network_xml(def);
  auto again = parse_network_xml(xml);
  ASSERT_TRUE(again.ok()) << again.error().message();
  EXPECT_EQ(format_network_xml(*again), xml);
  EXPECT_EQ(nic_option(*again, "m"),
            "user,net=192.168.122.0/24,host=192.168.122.1,dhcpstart=192.168.122.2,mac=m");
}

TEST(NetworkDef, RefusalsNameWhatIsRefused) {
  const std::vector<std::pair<std::string, const char*>> cases = {
      {"<network><name>x</name><forward mode='route'/><ip address='10.0.0.1'/></network>", "route"},
      {"<network><name>x</name><forward mode='bridge'/></network>", "<bridge name"},
      {"<network><name>x</name></network>", "<ip address"},
      {"<network><name>x</name><ip address='10.0.0.1' netmask='255.0.255.0'/></network>",
       "netmask"},
      {"<network><name>x</name><ip address='10.0.0.1' prefix='31'/></network>", "/29"},
      {"<network><name>x</name><ip address='10.0.0.1'><dhcp><range start='10.0.1.2' "
       "end='10.0.1.9'/></dhcp></ip></network>",
       "DHCP range"},
      {"<network><name>x</name><ip family='ipv6' address='fd00::1'/></network>", "ipv6"},
      {"<network><name>x</name><ip address='10.0.0.1'/><portgroup/></network>", "<portgroup>"},
      {"<network><name>a/b</name></network>", "a/b"},
      {"<domain/>", "<network>"},
  };
  for (const auto& [xml, names] : cases) {
    auto def = parse_network_xml(xml);
    ASSERT_FALSE(def.ok()) << xml;
    EXPECT_NE(def.error().message().find(names), std::string::npos)
        << xml << ": " << def.error().message();
  }
}

}  // namespace
}  // namespace vessel::daemon
