#include "daemon/snapshot_xml.h"

#include <gtest/gtest.h>

#include "daemon/virt_error.h"

namespace vessel::daemon {
namespace {

TEST(SnapshotXml, ReadsWhatVirshSends) {
  // snapshot-create-as s1 --description 'before' --disk-only --diskspec ...
  auto def = parse_snapshot_xml(
      "<domainsnapshot><name>s1</name><description>before</description>"
      "<disks><disk name='vda' snapshot='external'><source file='/v/a.s1'/></disk>"
      "<disk name='vdb' snapshot='no'/></disks></domainsnapshot>");
  ASSERT_TRUE(def.ok()) << def.error().message();
  EXPECT_EQ(def->name, "s1");
  EXPECT_EQ(def->description, "before");
  ASSERT_EQ(def->disks.size(), 2u);
  EXPECT_EQ(def->disks[0].snapshot, SnapshotLocation::kExternal);
  EXPECT_EQ(def->disks[0].file, "/v/a.s1");
  EXPECT_EQ(def->disks[1].snapshot, SnapshotLocation::kNo);
  EXPECT_TRUE(is_external(*def));
}

TEST(SnapshotXml, AFileMakesADiskExternal) {
  auto def = parse_snapshot_xml(
      "<domainsnapshot><disks><disk name='vda'><source file='/o'/></disk></disks>"
      "</domainsnapshot>");
  ASSERT_TRUE(def.ok()) << def.error().message();
  EXPECT_EQ(def->disks[0].snapshot, SnapshotLocation::kExternal);
  EXPECT_TRUE(def->name.empty());
}

TEST(SnapshotXml, RoundTripsTheStoredForm) {
  SnapshotDef def;
  def.name = "s2";
  def.description = "a <b> & c";
  def.parent = "s1";
  def.state = SnapshotState::kDiskSnapshot;
  def.creation_time = 1700000000;
  def.memory = SnapshotLocation::kNo;
  def.disks = {{"vda", SnapshotLocation::kExternal, "/v/d.s2", "qcow2"},
               {"vdb", SnapshotLocation::kNo, "", ""}};
  def.domain_xml = "<domain type='qemu'>\n  <name>vm</name>\n</domain>\n";
  std::string xml = format_snapshot_xml(def);
  EXPECT_NE(xml.find("<state>disk-snapshot</state>"), std::string::npos) << xml;
  EXPECT_NE(xml.find("<parent>\n    <name>s1</name>"), std::string::npos) << xml;
  EXPECT_NE(xml.find("<creationTime>1700000000</creationTime>"), std::string::npos) << xml;
  EXPECT_NE(xml.find("<driver type='qcow2' />"), std::string::npos) << xml;
  EXPECT_NE(xml.find("<domain type='qemu'>"), std::string::npos) << xml;
  auto again = parse_snapshot_xml(xml);
  ASSERT_TRUE(again.ok()) << again.error().message();
  EXPECT_EQ(again->name, "s2");
  EXPECT_EQ(again->description, "a <b> & c");
  EXPECT_EQ(again->parent, "s1");
  EXPECT_EQ(again->state, SnapshotState::kDiskSnapshot);
  EXPECT_EQ(again->creation_time, 1700000000);
  EXPECT_EQ(again->memory, SnapshotLocation::kNo);
  ASSERT_EQ(again->disks.size(), 2u);
  EXPECT_EQ(again->disks[0].file, "/v/d.s2");
  EXPECT_EQ(again->disks[0].format, "qcow2");
  EXPECT_EQ(format_snapshot_xml(*again), xml);
}

TEST(SnapshotXml, RefusalsCarryLibvirtErrors) {
  const std::vector<std::pair<std::string, int>> cases = {
      {"<domainsnapshot><name>x</name>", virt_error::kXmlError},
      {"<snapshot/>", virt_error::kXmlError},
      {"<domainsnapshot><memory snapshot='external' file='/m'/></domainsnapshot>",
       virt_error::kConfigUnsupported},
      {"<domainsnapshot><memory snapshot='maybe'/></domainsnapshot>", virt_error::kXmlError},
      {"<domainsnapshot><disks><disk name='vda' snapshot='internal'><source file='/o'/>"
       "</disk></disks></domainsnapshot>",
       virt_error::kXmlError},
      {"<domainsnapshot><disks><disk name='vda'><source file='rel'/></disk></disks>"
       "</domainsnapshot>",
       virt_error::kConfigUnsupported},
      {"<domainsnapshot><disks><disk snapshot='no'/></disks></domainsnapshot>",
       virt_error::kXmlError},
      {"<domainsnapshot><bogus/></domainsnapshot>", virt_error::kConfigUnsupported},
  };
  for (const auto& [xml, code] : cases) {
    auto def = parse_snapshot_xml(xml);
    ASSERT_FALSE(def.ok()) << xml;
    EXPECT_EQ(def.error().code(), code) << xml << ": " << def.error().message();
  }
}

TEST(SnapshotXml, NamesBecomeFileNames) {
  EXPECT_TRUE(check_snapshot_name("before-upgrade").ok());
  EXPECT_TRUE(check_snapshot_name("").ok());  // filled in at creation
  for (const char* bad : {"a/b", ".hidden", "..", "/"}) {
    auto checked = check_snapshot_name(bad);
    ASSERT_FALSE(checked.ok()) << bad;
    EXPECT_EQ(checked.error().code(), virt_error::kXmlDetail);
  }
}

}  // namespace
}  // namespace vessel::daemon
