// The migration stream between two VMs over a socket pair: the destination
// ends up with the source's RAM exactly (pages it had before the stream,
// such as its own firmware, do not survive unless sent), answers each
// pass's sync, and still takes a version 1 stream (no syncs).
#include "vmm/migration.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <functional>
#include <thread>
#include <vector>

#include "memory/ram_scan.h"
#include "vm_fixture.h"

namespace vessel::vmm {
namespace {

constexpr uint64_t kPage = memory::kPageSize;

class MigrationTest : public VmFixture {
 protected:
  void SetUp() override {
    VmFixture::SetUp();
    set_firmware({0x0000006f});  // j . (both VMs load it into page 0)
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, fds_), 0);
  }
  void TearDown() override {
    close(fds_[0]);
    close(fds_[1]);
    VmFixture::TearDown();
  }

  // The destination's side, on a thread of its own while the test sends.
  Result<void> receive(Vm& vm, const std::function<void()>& send) {
    Result<void> received = Ok();
    std::thread destination([&] { received = receive_vm(vm, fds_[1]); });
    send();
    destination.join();
    return received;
  }

  static bool same_ram(Vm& a, Vm& b) {
    memory::AddressSpace& x = a.board().bus();
    memory::AddressSpace& y = b.board().bus();
    return x.ram_size() == y.ram_size() &&
           std::memcmp(x.ram_host(), y.ram_host(), x.ram_size()) == 0;
  }

  int fds_[2] = {-1, -1};
};

TEST_F(MigrationTest, DestinationGetsTheSourceRamExactly) {
  std::unique_ptr<Vm> source = make(), destination = make();
  ASSERT_NE(source, nullptr);
  ASSERT_NE(destination, nullptr);
  uint8_t* ram = source->board().bus().ram_host();
  std::memset(ram, 0, kPage);  // the firmware page: zeros now
  std::memset(ram + 5 * kPage, 0xa5, kPage);
  ram[7 * kPage + 4095] = 1;                               // the last byte of a page
  (void)*static_cast<volatile uint8_t*>(ram + 9 * kPage);  // read, never written
  ASSERT_NE(destination->board().bus().ram_host()[0], 0);  // its firmware
  uint64_t data_pages = 0;                                 // 5, 7 and the device tree
  for (uint64_t page = 0; page < source->board().bus().ram_size() / kPage; ++page) {
    data_pages += memory::page_is_zero(ram + page * kPage) ? 0 : 1;
  }

  MigrationStats stats;
  Result<void> sent = Ok();
  Result<void> received =
      receive(*destination, [&] { sent = send_vm(*source, fds_[0], MigrationParams{}, stats); });
  ASSERT_TRUE(sent.ok()) << sent.error().message();
  ASSERT_TRUE(received.ok()) << received.error().message();
  EXPECT_TRUE(same_ram(*source, *destination));
  EXPECT_EQ(stats.normal_pages.load(), data_pages);
  EXPECT_EQ(stats.zero_pages.load(), source->board().bus().ram_size() / kPage - data_pages);
}

TEST_F(MigrationTest, TakesAVersion1StreamAndRefusesASyncInIt) {
  std::unique_ptr<Vm> source = make();
  ASSERT_NE(source, nullptr);
  source->pause();
  StateWriter state;
  ASSERT_TRUE(source->save(state, /*include_ram=*/false).ok());
  const uint64_t ram_size = source->board().bus().ram_size();

  // Version 1: "VESSELMG", version, RAM size; every page; the device state.
  auto stream = [&](bool with_sync) {
    std::vector<uint8_t> s;
    auto put = [&s](const void* p, size_t n) {
      s.insert(s.end(), static_cast<const uint8_t*>(p), static_cast<const uint8_t*>(p) + n);
    };
    uint32_t version = 1;
    put("VESSELMG", 8);
    put(&version, 4);
    put(&ram_size, 8);
    std::vector<uint8_t> data(kPage, 0x3c);
    for (uint64_t page = 0; page < ram_size / kPage; ++page) {
      uint8_t type = page == 3 ? 'P' : 'Z';
      put(&type, 1);
      put(&page, 8);
      if (type == 'P') put(data.data(), kPage);
    }
    if (with_sync) s.push_back('Y');
    uint64_t length = state.data().size();
    s.push_back('S');
    put(&length, 8);
    put(state.data().data(), length);
    return s;
  };
  auto send_all = [this](const std::vector<uint8_t>& bytes) {
    ASSERT_EQ(write(fds_[0], bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
  };

  std::unique_ptr<Vm> destination = make();
  ASSERT_NE(destination, nullptr);
  std::vector<uint8_t> plain = stream(false);
  Result<void> received = receive(*destination, [&] { send_all(plain); });
  ASSERT_TRUE(received.ok()) << received.error().message();
  const uint8_t* ram = destination->board().bus().ram_host();
  EXPECT_EQ(ram[0], 0);  // its firmware page was not sent as data
  EXPECT_EQ(ram[3 * kPage + 17], 0x3c);
  char ack = 0;
  EXPECT_EQ(read(fds_[0], &ack, 1), 1);
  EXPECT_EQ(ack, 'A');

  std::unique_ptr<Vm> other = make();
  ASSERT_NE(other, nullptr);
  std::vector<uint8_t> synced = stream(true);
  received = receive(*other, [&] { send_all(synced); });
  ASSERT_FALSE(received.ok());
  EXPECT_NE(received.error().message().find("corrupt stream"), std::string::npos);
}

}  // namespace
}  // namespace vessel::vmm
