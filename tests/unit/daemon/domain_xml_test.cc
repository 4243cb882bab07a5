#include "daemon/domain_xml.h"

#include <gtest/gtest.h>

#include "daemon/virt_error.h"

namespace vessel::daemon {
namespace {

const char* kMinimal = R"(<domain type='qemu'>
  <name>vm</name>
  <memory unit='MiB'>256</memory>
  <os><type arch='riscv64' machine='virt'>hvm</type><kernel>/boot/Image</kernel></os>
</domain>)";

std::string with(const std::string& devices, const std::string& extra = "") {
  return "<domain type='qemu'><name>vm</name><memory>262144</memory>" + extra +
         "<os><type>hvm</type><kernel>/k</kernel></os><devices>" + devices + "</devices></domain>";
}

TEST(DomainXml, FillsInWhatLibvirtFillsIn) {
  auto def = parse_domain_xml(kMinimal);
  ASSERT_TRUE(def.ok()) << def.error().message();
  EXPECT_EQ(def->name, "vm");
  EXPECT_EQ(def->memory_kib, 262144u);
  EXPECT_EQ(def->current_memory_kib, 262144u);
  EXPECT_EQ(def->vcpus, 1u);
  EXPECT_NE(def->uuid, Uuid{});
  EXPECT_EQ((def->uuid[6] >> 4), 4);  // a version 4 UUID
}

TEST(DomainXml, MemoryUnits) {
  for (auto [text, kib] : std::vector<std::pair<std::string, uint64_t>>{
           {"<memory unit='G'>1</memory>", 1048576},
           {"<memory unit='MB'>100</memory>", 97657},
           {"<memory unit='bytes'>4194304</memory>", 4096},
           {"<memory>8192</memory>", 8192}}) {
    std::string xml = "<domain type='qemu'><name>m</name>" + text +
                      "<os><type>hvm</type><kernel>/k</kernel></os></domain>";
    auto def = parse_domain_xml(xml);
    ASSERT_TRUE(def.ok()) << text << ": " << def.error().message();
    EXPECT_EQ(def->memory_kib, kib) << text;
  }
}

TEST(DomainXml, RoundTripsThroughItsOwnOutput) {
  auto def = parse_domain_xml(
      with("<disk type='file' device='disk'><driver name='qemu' type='qcow2'/>"
           "<source file='/d/b.qcow2'/><target dev='vdb' bus='virtio'/><readonly/></disk>"
           "<disk type='file'><source file='/d/a.img'/><target dev='vda'/></disk>"
           "<interface type='bridge'><source bridge='br0'/><mac "
           "address='52:54:00:AA:00:01'/></interface>"
           "<interface type='network'><source network='default'/></interface>"
           "<controller type='pci' model='pcie-root'/><console type='pty'/>",
           "<on_poweroff>restart</on_poweroff><clock offset='utc'/><title>t</title>"));
  ASSERT_TRUE(def.ok()) << def.error().message();
  ASSERT_EQ(def->disks.size(), 2u);
  EXPECT_EQ(def->disks[0].target, "vda");  // in target order: vda is /dev/vda
  EXPECT_EQ(def->disks[0].format, "raw");  // no <driver type>: raw, never probed
  EXPECT_TRUE(def->disks[1].readonly);
  EXPECT_EQ(def->interfaces[0].mac, "52:54:00:aa:00:01");
  EXPECT_EQ(def->interfaces[1].mac.substr(0, 9), "52:54:00:");
  EXPECT_EQ(def->on_poweroff, LifecycleAction::kRestart);
  std::string xml = format_domain_xml(*def, 3);
  EXPECT_NE(xml.find("<domain type='qemu' id='3'>"), std::string::npos) << xml;
  auto again = parse_domain_xml(xml);
  ASSERT_TRUE(again.ok()) << again.error().message();
  EXPECT_EQ(format_domain_xml(*again, 3), xml);
  EXPECT_NE(xml.find("pcie-root"), std::string::npos);
  EXPECT_NE(xml.find("<title>t</title>"), std::string::npos);
}

TEST(DomainXml, RefusalsNameWhatIsRefused) {
  struct Case {
    std::string xml;
    int code;
    const char* names;
  };
  const std::vector<Case> cases = {
      {"<domain", virt_error::kXmlError, "malformed XML"},
      {"<network/>", virt_error::kXmlError, "<domain>"},
      {with("<graphics type='vnc'/>"), virt_error::kConfigUnsupported, "<graphics>"},
      {with("<disk><source file='/a'/><target dev='hda' bus='ide'/></disk>"),
       virt_error::kConfigUnsupported, "bus 'ide'"},
      {with("<disk><source file='/a'/><target dev='hda'/></disk>"), virt_error::kXmlError, "hda"},
      {with("<disk type='block'><source dev='/dev/sda'/><target dev='vda'/></disk>"),
       virt_error::kConfigUnsupported, "'block'"},
      {with("<disk><driver type='vmdk'/><source file='/a'/><target dev='vda'/></disk>"),
       virt_error::kConfigUnsupported, "vmdk"},
      {with("<disk><source file='a.img'/><target dev='vda'/></disk>"), virt_error::kXmlError,
       "absolute"},
      {with("<interface type='direct'/>"), virt_error::kConfigUnsupported, "'direct'"},
      {with("<interface type='user'><model type='e1000'/></interface>"),
       virt_error::kConfigUnsupported, "e1000"},
      {with("<interface type='user'><mac address='01:00:00:00:00:01'/></interface>"),
       virt_error::kXmlError, "MAC"},
      {with("<serial type='tcp'/>"), virt_error::kConfigUnsupported, "'tcp'"},
      {with("", "<vcpu>0</vcpu>"), virt_error::kConfigUnsupported, "<vcpu>"},
      {with("", "<cputune/>"), virt_error::kConfigUnsupported, "<cputune>"},
      {with("<disk><source file='/a'/><target dev='vda'/></disk>"
            "<disk><source file='/b'/><target dev='vda'/></disk>"),
       virt_error::kXmlError, "duplicated"},
      {std::string(kMinimal).replace(std::string(kMinimal).find("qemu"), 4, "kvm"),
       virt_error::kConfigUnsupported, "accelerator"},
      {std::string(kMinimal).replace(std::string(kMinimal).find("256"), 3, "1"),
       virt_error::kConfigUnsupported, "2 MiB to 16 GiB"},
      {std::string(kMinimal).replace(std::string(kMinimal).find("vm"), 2, "a/b"),
       virt_error::kXmlError, "'a/b'"},
  };
  for (const Case& c : cases) {
    auto def = parse_domain_xml(c.xml);
    ASSERT_FALSE(def.ok()) << c.xml;
    EXPECT_EQ(def.error().code(), c.code) << c.xml << ": " << def.error().message();
    EXPECT_NE(def.error().message().find(c.names), std::string::npos)
        << c.xml << ": " << def.error().message();
  }
}

TEST(DomainXml, EightSlotsHoldSevenDisksAndNics) {
  std::string devices;
  for (char c = 'a'; c <= 'h'; ++c) {
    devices += std::string("<disk><source file='/d'/><target dev='vd") + c + "'/></disk>";
  }
  auto def = parse_domain_xml(with(devices));
  ASSERT_FALSE(def.ok());
  EXPECT_NE(def.error().message().find("more than 7"), std::string::npos);
}

TEST(DomainXml, AttachAndDetachDevices) {
  auto def = parse_domain_xml(kMinimal);
  ASSERT_TRUE(def.ok());
  ASSERT_TRUE(
      apply_device_xml(*def, "<disk><source file='/x'/><target dev='vdc'/></disk>", false).ok());
  EXPECT_EQ(def->disks.size(), 1u);
  EXPECT_FALSE(
      apply_device_xml(*def, "<disk><source file='/x'/><target dev='vdc'/></disk>", false).ok());
  EXPECT_FALSE(
      apply_device_xml(*def, "<disk><source file='/x'/><target dev='vdd'/></disk>", true).ok());
  ASSERT_TRUE(
      apply_device_xml(*def, "<disk><source file='/x'/><target dev='vdc'/></disk>", true).ok());
  EXPECT_TRUE(def->disks.empty());
  auto refused = apply_device_xml(*def, "<graphics type='vnc'/>", false);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code(), virt_error::kConfigUnsupported);
}

TEST(Uuid, ParsesWithOrWithoutDashes) {
  auto a = parse_uuid("a1b2c3d4-0000-4000-8000-00000000000f");
  auto b = parse_uuid("A1B2C3D400004000800000000000000F");
  ASSERT_TRUE(a && b);
  EXPECT_EQ(*a, *b);
  EXPECT_EQ(format_uuid(*a), "a1b2c3d4-0000-4000-8000-00000000000f");
  EXPECT_FALSE(parse_uuid("a1b2"));
  EXPECT_FALSE(parse_uuid("g1b2c3d4-0000-4000-8000-00000000000f"));
  EXPECT_FALSE(parse_uuid("a1b2c3d4-0000-4000-8000-00000000000f00"));
}

}  // namespace
}  // namespace vessel::daemon
