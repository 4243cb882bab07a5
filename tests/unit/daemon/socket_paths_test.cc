#include "daemon/socket_paths.h"

#include <gtest/gtest.h>

#include "daemon/virt_error.h"

namespace vessel::daemon {
namespace {

TEST(LocalUri, SystemAndSessionFindTheDefaultSockets) {
  auto system = parse_local_uri("vessel:///system");
  ASSERT_TRUE(system.ok());
  EXPECT_EQ(system->socket, "/run/libvirt/virtvesseld-sock");
  EXPECT_EQ(system->name, "vessel:///system");
  auto qemu = parse_local_uri("qemu+unix:///system");
  ASSERT_TRUE(qemu.ok());
  EXPECT_EQ(qemu->socket, "/run/libvirt/virtqemud-sock");
  EXPECT_EQ(qemu->name, "qemu:///system");
  ::setenv("XDG_RUNTIME_DIR", "/run/user/1000", 1);
  auto session = parse_local_uri("vessel:///session");
  ASSERT_TRUE(session.ok());
  EXPECT_EQ(session->socket, "/run/user/1000/libvirt/virtvesseld-sock");
}

TEST(LocalUri, TheSocketParameterWins) {
  auto uri = parse_local_uri("vessel+unix:///system?mode=legacy&socket=/tmp/a%20b/sock");
  ASSERT_TRUE(uri.ok());
  EXPECT_EQ(uri->socket, "/tmp/a b/sock");
  EXPECT_EQ(uri->name, "vessel:///system");
}

TEST(LocalUri, RemoteHostsAndOtherDriversAreRefused) {
  for (const char* bad : {"vessel+ssh://host/system", "vessel://host/system", "xen:///system",
                          "vessel:///elsewhere", "vessel", ""}) {
    auto uri = parse_local_uri(bad);
    EXPECT_FALSE(uri.ok()) << bad;
  }
  EXPECT_EQ(parse_local_uri("vessel+tls://host/system").error().code(), virt_error::kNoSupport);
}

}  // namespace
}  // namespace vessel::daemon
