// The user-mode backend against the real libslirp: a guest's DHCP DISCOVER
// gets an OFFER of the first DHCP address, and a host forward whose port is
// taken fails with the reason.
#include "net/slirp_backend.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "net/nic_config.h"

namespace vessel::net {
namespace {

constexpr uint8_t kGuestMac[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
constexpr uint32_t kXid = 0x5e55e1;

// Collects what the backend's I/O thread delivers.
class RecordingSink : public FrameSink {
 public:
  bool deliver(std::span<const uint8_t> frame) override {
    {
      std::lock_guard lock(mutex_);
      frames_.emplace_back(frame.begin(), frame.end());
    }
    arrived_.notify_all();
    return true;
  }

  // Waits up to `timeout` for a frame that `match` accepts.
  template <typename Match>
  std::optional<std::vector<uint8_t>> wait_for(Match match, std::chrono::seconds timeout) {
    std::unique_lock lock(mutex_);
    size_t checked = 0;
    std::optional<std::vector<uint8_t>> found;
    arrived_.wait_for(lock, timeout, [&] {
      for (; checked < frames_.size(); ++checked) {
        if (match(frames_[checked])) {
          found = frames_[checked];
          return true;
        }
      }
      return false;
    });
    return found;
  }

 private:
  std::mutex mutex_;
  std::condition_variable arrived_;
  std::vector<std::vector<uint8_t>> frames_;
};

void put16(std::vector<uint8_t>& b, size_t at, uint16_t v) {
  b[at] = static_cast<uint8_t>(v >> 8);
  b[at + 1] = static_cast<uint8_t>(v);
}
uint16_t get16(const std::vector<uint8_t>& b, size_t at) {
  return static_cast<uint16_t>(b[at] << 8 | b[at + 1]);
}

// Offsets in an Ethernet + IPv4 (no options) + UDP + BOOTP frame.
constexpr size_t kEth = 0, kIp = 14, kUdp = kIp + 20, kBootp = kUdp + 8;
constexpr size_t kBootpFixed = 236, kBootpVendor = 312;  // RFC 951, RFC 2131 minimum options
constexpr size_t kFrameSize = kBootp + kBootpFixed + kBootpVendor;

// A DHCPDISCOVER from 0.0.0.0:68 to 255.255.255.255:67, as a fresh client
// sends it (RFC 2131 §4.1).
std::vector<uint8_t> dhcp_discover() {
  std::vector<uint8_t> f(kFrameSize, 0);
  std::memset(&f[kEth], 0xff, 6);
  std::memcpy(&f[kEth + 6], kGuestMac, 6);
  put16(f, kEth + 12, 0x0800);
  // IPv4 header.
  f[kIp] = 0x45;
  put16(f, kIp + 2, static_cast<uint16_t>(kFrameSize - kIp));
  f[kIp + 8] = 64;  // TTL
  f[kIp + 9] = 17;  // UDP
  std::memset(&f[kIp + 16], 0xff, 4);
  uint32_t sum = 0;
  for (size_t i = 0; i < 20; i += 2) sum += get16(f, kIp + i);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  put16(f, kIp + 10, static_cast<uint16_t>(~sum));
  // UDP header; checksum 0: none.
  put16(f, kUdp, 68);
  put16(f, kUdp + 2, 67);
  put16(f, kUdp + 4, static_cast<uint16_t>(kFrameSize - kUdp));
  // BOOTP request.
  f[kBootp] = 1;      // BOOTREQUEST
  f[kBootp + 1] = 1;  // Ethernet
  f[kBootp + 2] = 6;
  put16(f, kBootp + 4, static_cast<uint16_t>(kXid >> 16));
  put16(f, kBootp + 6, static_cast<uint16_t>(kXid));
  std::memcpy(&f[kBootp + 28], kGuestMac, 6);
  const uint8_t options[] = {99, 130, 83, 99,  // magic cookie
                             53, 1,   1,       // DHCP message type: DISCOVER
                             255};
  std::memcpy(&f[kBootp + kBootpFixed], options, sizeof options);
  return f;
}

// The DHCP message type of a BOOTP reply to our transaction, or 0.
uint8_t dhcp_reply_type(const std::vector<uint8_t>& f) {
  if (f.size() < kBootp + kBootpFixed + 4) return 0;
  if (get16(f, kEth + 12) != 0x0800 || f[kIp + 9] != 17 || (f[kIp] & 0x0f) != 5) return 0;
  if (get16(f, kUdp) != 67 || get16(f, kUdp + 2) != 68) return 0;
  if (f[kBootp] != 2 || get16(f, kBootp + 4) != (kXid >> 16) ||
      get16(f, kBootp + 6) != (kXid & 0xffff)) {
    return 0;
  }
  for (size_t at = kBootp + kBootpFixed + 4; at + 2 < f.size() && f[at] != 255;) {
    if (f[at] == 0) {
      ++at;
      continue;
    }
    if (f[at] == 53 && f[at + 1] == 1) return f[at + 2];
    at += 2 + f[at + 1];
  }
  return 0;
}

// A TCP port on 127.0.0.1 that was free a moment ago.
uint16_t free_port() {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  EXPECT_GE(s, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(bind(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  socklen_t len = sizeof addr;
  EXPECT_EQ(getsockname(s, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  close(s);
  return ntohs(addr.sin_port);
}

UserNetConfig config_with_forward(uint16_t port) {
  std::string text = "user,hostfwd=tcp:127.0.0.1:" + std::to_string(port) + "-:22";
  Result<NicConfig> nic = parse_nic(text);
  EXPECT_TRUE(nic.ok()) << text;
  return nic.ok() ? nic->user : UserNetConfig{};
}

TEST(SlirpBackend, AnswersDhcpDiscoverWithAnOffer) {
  uint16_t port = free_port();
  Result<std::unique_ptr<SlirpBackend>> backend = SlirpBackend::open(config_with_forward(port));
  ASSERT_TRUE(backend.ok()) << backend.error().message();
  EXPECT_FALSE((*backend)->has_vnet_header());
  RecordingSink sink;
  (*backend)->start(sink);

  std::vector<uint8_t> discover = dhcp_discover();
  const iovec pieces[] = {{discover.data(), 100}, {discover.data() + 100, discover.size() - 100}};
  (*backend)->send(pieces);

  std::optional<std::vector<uint8_t>> offer =
      sink.wait_for([](const std::vector<uint8_t>& f) { return dhcp_reply_type(f) == 2; },
                    std::chrono::seconds(20));
  (*backend)->stop();
  ASSERT_TRUE(offer.has_value()) << "no DHCPOFFER arrived";
  const std::vector<uint8_t>& f = *offer;
  // To the client's hardware address in chaddr, offering 10.0.2.15 from the
  // host address 10.0.2.2.
  EXPECT_EQ(std::vector<uint8_t>(f.begin() + kBootp + 28, f.begin() + kBootp + 34),
            std::vector<uint8_t>(std::begin(kGuestMac), std::end(kGuestMac)));
  in_addr yiaddr, siaddr;
  std::memcpy(&yiaddr, &f[kBootp + 16], 4);
  std::memcpy(&siaddr, &f[kBootp + 20], 4);
  EXPECT_STREQ(inet_ntoa(yiaddr), "10.0.2.15");
  EXPECT_STREQ(inet_ntoa(siaddr), "10.0.2.2");
  EXPECT_EQ((*backend)->dropped_frames(), 0u);
}

TEST(SlirpBackend, ForwardToATakenPortFails) {
  uint16_t port = free_port();
  Result<std::unique_ptr<SlirpBackend>> first = SlirpBackend::open(config_with_forward(port));
  ASSERT_TRUE(first.ok()) << first.error().message();
  Result<std::unique_ptr<SlirpBackend>> second = SlirpBackend::open(config_with_forward(port));
  ASSERT_FALSE(second.ok());
  const std::string& message = second.error().message();
  EXPECT_NE(message.find("Address already in use"), std::string::npos) << message;
  EXPECT_NE(message.find("127.0.0.1:" + std::to_string(port)), std::string::npos) << message;
  EXPECT_NE(message.find("hostfwd=tcp:127.0.0.1:"), std::string::npos) << message;
}

TEST(SlirpBackend, StopsOnceWhetherStartedOrNot) {
  Result<NicConfig> nic = parse_nic("user");
  ASSERT_TRUE(nic.ok());
  Result<std::unique_ptr<SlirpBackend>> unstarted = SlirpBackend::open(nic->user);
  ASSERT_TRUE(unstarted.ok()) << unstarted.error().message();
  (*unstarted)->stop();
  Result<std::unique_ptr<SlirpBackend>> backend = SlirpBackend::open(nic->user);
  ASSERT_TRUE(backend.ok()) << backend.error().message();
  RecordingSink sink;
  (*backend)->start(sink);
  (*backend)->stop();
  (*backend)->stop();
}

}  // namespace
}  // namespace vessel::net
