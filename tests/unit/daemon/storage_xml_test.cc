#include "daemon/storage_xml.h"

#include <gtest/gtest.h>

#include "daemon/virt_error.h"

namespace vessel::daemon {
namespace {

TEST(PoolXml, WhatPoolDefineAsSends) {
  auto def = parse_pool_xml(
      "<pool type='dir'><name>images</name><source></source>"
      "<target><path>//srv//images/</path></target></pool>");
  ASSERT_TRUE(def.ok()) << def.error().message();
  EXPECT_EQ(def->name, "images");
  EXPECT_EQ(def->target_path, "/srv/images");
  EXPECT_NE(def->uuid, Uuid{});  // filled in, as libvirt does
  EXPECT_FALSE(def->mode.has_value());
}

TEST(PoolXml, RoundTripKeepsUuidAndMode) {
  auto def = parse_pool_xml(
      "<pool type='dir'><name>p</name><uuid>6ba7b810-9dad-41d1-80b4-00c04fd430c8</uuid>"
      "<target><path>/p</path><permissions><mode>0711</mode></permissions></target></pool>");
  ASSERT_TRUE(def.ok()) << def.error().message();
  EXPECT_EQ(def->mode, 0711u);
  std::string xml = format_pool_xml(*def, {100, 40, 60});
  EXPECT_NE(xml.find("<uuid>6ba7b810-9dad-41d1-80b4-00c04fd430c8</uuid>"), std::string::npos);
  EXPECT_NE(xml.find("<capacity unit='bytes'>100</capacity>"), std::string::npos);
  EXPECT_NE(xml.find("<available unit='bytes'>60</available>"), std::string::npos);
  EXPECT_NE(xml.find("<mode>0711</mode>"), std::string::npos);
  auto again = parse_pool_xml(xml);
  ASSERT_TRUE(again.ok()) << again.error().message();
  EXPECT_EQ(again->uuid, def->uuid);
  EXPECT_EQ(format_pool_xml(*again, {100, 40, 60}), xml);
}

TEST(PoolXml, RefusesWhatVesselCannotHonour) {
  struct Case {
    const char* xml;
    int code;
    const char* names;
  } cases[] = {
      {"<pool type='logical'><name>p</name><target><path>/p</path></target></pool>",
       virt_error::kConfigUnsupported, "'logical'"},
      {"<pool type='dir'><name>p</name><target><path>p</path></target></pool>",
       virt_error::kXmlError, "absolute path"},
      {"<pool type='dir'><name>p</name><target><path>/a/../b</path></target></pool>",
       virt_error::kXmlError, "'..'"},
      {"<pool type='dir'><name>a/b</name><target><path>/p</path></target></pool>",
       virt_error::kXmlError, "cannot be used"},
      {"<pool type='dir'><name>p</name><source><dir path='/x'/></source>"
       "<target><path>/p</path></target></pool>",
       virt_error::kConfigUnsupported, "<dir>"},
      {"<pool type='dir'><name>p</name><uuid>nope</uuid><target><path>/p</path></target></pool>",
       virt_error::kXmlError, "uuid"},
      {"<pool type='dir'><name>p</name><target><path>/p</path><permissions><mode>999</mode>"
       "</permissions></target></pool>",
       virt_error::kXmlError, "octal"},
      {"<volume/>", virt_error::kXmlError, "<pool>"},
  };
  for (const Case& c : cases) {
    auto def = parse_pool_xml(c.xml);
    ASSERT_FALSE(def.ok()) << c.xml;
    EXPECT_EQ(def.error().code(), c.code) << c.xml;
    EXPECT_NE(def.error().message().find(c.names), std::string::npos) << def.error().message();
  }
}

TEST(VolumeXml, WhatVolCreateAsSends) {
  auto def = parse_volume_xml(
      "<volume><name>a.qcow2</name><capacity>1073741824</capacity>"
      "<target><format type='qcow2'/></target></volume>");
  ASSERT_TRUE(def.ok()) << def.error().message();
  EXPECT_EQ(def->name, "a.qcow2");
  EXPECT_EQ(def->capacity, 1073741824u);
  EXPECT_EQ(def->allocation, def->capacity);  // no <allocation>: fully allocated
  EXPECT_EQ(def->format, VolumeFormat::kQcow2);
}

TEST(VolumeXml, WhatVirtInstallSends) {
  auto def = parse_volume_xml(
      "<volume><name>vi.qcow2</name><capacity unit='G'>1</capacity>"
      "<allocation unit='KiB'>0</allocation><target><format type='qcow2'/>"
      "<permissions><mode>0600</mode></permissions><features><lazy_refcounts/></features>"
      "</target></volume>");
  ASSERT_TRUE(def.ok()) << def.error().message();
  EXPECT_EQ(def->capacity, 1u << 30);
  EXPECT_EQ(def->allocation, 0u);
  EXPECT_TRUE(def->lazy_refcounts);
  EXPECT_FALSE(def->qcow2_v2);
}

TEST(VolumeXml, ScaledUnits) {
  for (auto [unit, bytes] : std::vector<std::pair<std::string, uint64_t>>{
           {"bytes", 5}, {"KB", 5000}, {"k", 5120}, {"MiB", 5u << 20}, {"gb", 5000000000ull}}) {
    auto def = parse_volume_xml("<volume><name>v</name><capacity unit='" + unit +
                                "'>5</capacity></volume>");
    ASSERT_TRUE(def.ok()) << unit << ": " << def.error().message();
    EXPECT_EQ(def->capacity, bytes) << unit;
    EXPECT_EQ(def->format, VolumeFormat::kRaw);
  }
  EXPECT_FALSE(
      parse_volume_xml("<volume><name>v</name><capacity unit='Q'>5</capacity></volume>").ok());
  EXPECT_FALSE(
      parse_volume_xml("<volume><name>v</name><capacity unit='E'>99</capacity></volume>").ok());
}

TEST(VolumeXml, RefusesWhatVesselCannotHonour) {
  for (const char* xml : {
           "<volume><name>v</name></volume>",                           // no capacity
           "<volume><name>../v</name><capacity>1</capacity></volume>",  // a path
           "<volume><name>v</name><capacity>1</capacity><target><format type='vmdk'/>"
           "</target></volume>",
           "<volume><name>v</name><capacity>1</capacity><backingStore/></volume>",
           "<volume type='block'><name>v</name><capacity>1</capacity></volume>",
           "<volume><name>v</name><capacity>1</capacity><target><compat>1.1</compat>"
           "</target></volume>",  // compat of a raw volume
       }) {
    EXPECT_FALSE(parse_volume_xml(xml).ok()) << xml;
  }
}

TEST(VolumeXml, Formats) {
  VolumeInfo info;
  info.name = "a.qcow2";
  info.path = "/p/a.qcow2";
  info.format = VolumeFormat::kQcow2;
  info.capacity = 1 << 30;
  info.allocation = 4096;
  info.physical = 196624;
  info.mode = 0600;
  info.owner = 1000;
  info.group = 100;
  std::string xml = format_volume_xml(info);
  for (const char* part : {"<volume type='file'>", "<name>a.qcow2</name>", "<key>/p/a.qcow2</key>",
                           "<capacity unit='bytes'>1073741824</capacity>",
                           "<allocation unit='bytes'>4096</allocation>",
                           "<physical unit='bytes'>196624</physical>", "<path>/p/a.qcow2</path>",
                           "<format type='qcow2' />", "<mode>0600</mode>", "<owner>1000</owner>"}) {
    EXPECT_NE(xml.find(part), std::string::npos) << part << " in " << xml;
  }
}

}  // namespace
}  // namespace vessel::daemon
