#include "daemon/event_hub.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include "daemon/rpc_message.h"
#include "daemon/virt_error.h"

namespace vessel::daemon {
namespace {

// A client connected through a socket pair: what the hub pushes to it can be
// read back as whole messages.
class Client {
 public:
  Client() {
    int fds[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
    ours_ = fds[0];
    theirs_ = fds[1];
    socket_ = std::make_unique<ClientSocket>(ours_);
  }
  ~Client() {
    ::close(ours_);
    ::close(theirs_);
  }
  ClientSocket* socket() { return socket_.get(); }

  // The next message's procedure and payload; none if nothing is waiting.
  std::optional<std::pair<int32_t, std::vector<uint8_t>>> next() {
    std::array<uint8_t, rpc::kLengthSize> prefix;
    if (::recv(theirs_, prefix.data(), prefix.size(), MSG_DONTWAIT) !=
        static_cast<ssize_t>(prefix.size())) {
      return std::nullopt;
    }
    auto length = rpc::parse_length(prefix);
    EXPECT_TRUE(length.ok());
    std::vector<uint8_t> message(*length - rpc::kLengthSize);
    EXPECT_EQ(::recv(theirs_, message.data(), message.size(), MSG_WAITALL),
              static_cast<ssize_t>(message.size()));
    XdrReader reader(message);
    auto header = rpc::parse_header(reader);
    EXPECT_TRUE(header.ok());
    EXPECT_EQ(header->type, rpc::Type::kMessage);
    auto rest = reader.rest();
    return std::make_pair(header->procedure, std::vector<uint8_t>(rest.begin(), rest.end()));
  }

 private:
  int ours_ = -1, theirs_ = -1;
  std::unique_ptr<ClientSocket> socket_;
};

DomainRef domain(uint8_t tag) {
  DomainRef ref{"vm" + std::to_string(tag), {}, 3};
  ref.uuid[0] = tag;
  return ref;
}

constexpr int32_t kLifecycle = 0, kReboot = 1;
constexpr int kStarted = 2, kBooted = 0;

TEST(EventHub, CallbacksCarryTheirIdAndOnlyTheirObjectsEvents) {
  EventHub hub;
  Client client;
  auto every = hub.add_callback(client.socket(), EventFamily::kDomain, kLifecycle, std::nullopt);
  auto only_two =
      hub.add_callback(client.socket(), EventFamily::kDomain, kLifecycle, domain(2).uuid);
  ASSERT_TRUE(every.ok() && only_two.ok());
  EXPECT_NE(*every, *only_two);

  hub.publish_domain(domain(1), DomainEventId::kLifecycle, kStarted, kBooted);
  auto message = client.next();
  ASSERT_TRUE(message);
  EXPECT_EQ(message->first, 318);  // DOMAIN_EVENT_CALLBACK_LIFECYCLE
  XdrReader payload(message->second);
  EXPECT_EQ(payload.i32(), *every);
  EXPECT_EQ(payload.string(100), "vm1");
  EXPECT_EQ(payload.fixed_opaque<16>(), domain(1).uuid);
  EXPECT_EQ(payload.i32(), 3);
  EXPECT_EQ(payload.i32(), kStarted);
  EXPECT_EQ(payload.i32(), kBooted);
  EXPECT_TRUE(payload.done());
  EXPECT_FALSE(client.next()) << "vm1's event reached the callback for vm2";

  hub.publish_domain(domain(2), DomainEventId::kLifecycle, kStarted, kBooted);
  EXPECT_TRUE(client.next());
  EXPECT_TRUE(client.next());
  EXPECT_FALSE(client.next());
}

TEST(EventHub, EventsGoOnlyToTheirEventId) {
  EventHub hub;
  Client client;
  auto reboots = hub.add_callback(client.socket(), EventFamily::kDomain, kReboot, std::nullopt);
  ASSERT_TRUE(reboots.ok());
  hub.publish_domain(domain(1), DomainEventId::kLifecycle, kStarted, kBooted);
  EXPECT_FALSE(client.next());
  hub.publish_domain(domain(1), DomainEventId::kReboot, 0, 0);
  auto message = client.next();
  ASSERT_TRUE(message);
  EXPECT_EQ(message->first, 319);                      // DOMAIN_EVENT_CALLBACK_REBOOT
  EXPECT_EQ(message->second.size(), 4u + 8 + 16 + 4);  // id, "vm1", uuid, domain id
}

TEST(EventHub, OlderRegistrationGetsMessagesWithoutCallbackId) {
  EventHub hub;
  Client client;
  ASSERT_TRUE(hub.add_domain_listener(client.socket(), kLifecycle).ok());
  ASSERT_TRUE(hub.add_domain_listener(client.socket(), kLifecycle).ok());  // once is enough
  hub.publish_domain(domain(1), DomainEventId::kLifecycle, kStarted, kBooted);
  auto message = client.next();
  ASSERT_TRUE(message);
  EXPECT_EQ(message->first, 107);  // DOMAIN_EVENT_LIFECYCLE
  XdrReader payload(message->second);
  EXPECT_EQ(payload.string(100), "vm1");
  EXPECT_FALSE(client.next());
  hub.remove_domain_listener(client.socket(), kLifecycle);
  hub.publish_domain(domain(1), DomainEventId::kLifecycle, kStarted, kBooted);
  EXPECT_FALSE(client.next());
}

TEST(EventHub, NetworkAndPoolEventsReachTheirFamilyOnly) {
  EventHub hub;
  Client client;
  auto networks = hub.add_callback(client.socket(), EventFamily::kNetwork, 0, std::nullopt);
  auto refreshes = hub.add_callback(client.socket(), EventFamily::kStoragePool, 1, std::nullopt);
  ASSERT_TRUE(networks.ok() && refreshes.ok());
  hub.publish_pool({"p", {}}, PoolEvent::kStarted);  // lifecycle: nobody listens
  EXPECT_FALSE(client.next());
  hub.publish_pool({"p", {}}, PoolEvent::kRefreshed);
  auto message = client.next();
  ASSERT_TRUE(message);
  EXPECT_EQ(message->first, 373);  // STORAGE_POOL_EVENT_REFRESH
  hub.publish_network({"n", {}}, NetworkEvent::kStopped);
  message = client.next();
  ASSERT_TRUE(message);
  EXPECT_EQ(message->first, 315);  // NETWORK_EVENT_LIFECYCLE
  XdrReader payload(message->second);
  EXPECT_EQ(payload.i32(), *networks);
  EXPECT_EQ(payload.string(100), "n");
  payload.fixed_opaque<16>();
  EXPECT_EQ(payload.i32(), static_cast<int32_t>(NetworkEvent::kStopped));
}

TEST(EventHub, RefusesUnknownEventIdsAndCallbacks) {
  EventHub hub;
  Client client, other;
  auto bad = hub.add_callback(client.socket(), EventFamily::kDomain, 27, std::nullopt);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code(), virt_error::kInvalidArg);
  EXPECT_FALSE(hub.add_callback(client.socket(), EventFamily::kNetwork, 1, std::nullopt).ok());
  EXPECT_FALSE(hub.add_domain_listener(client.socket(), -1).ok());

  auto id = hub.add_callback(client.socket(), EventFamily::kDomain, kLifecycle, std::nullopt);
  ASSERT_TRUE(id.ok());
  EXPECT_FALSE(hub.remove_callback(other.socket(), EventFamily::kDomain, *id).ok())
      << "a client removed another client's callback";
  EXPECT_FALSE(hub.remove_callback(client.socket(), EventFamily::kNetwork, *id).ok());
  EXPECT_TRUE(hub.remove_callback(client.socket(), EventFamily::kDomain, *id).ok());
  EXPECT_FALSE(hub.remove_callback(client.socket(), EventFamily::kDomain, *id).ok());
}

TEST(EventHub, AClientThatGoesLosesAllItsRegistrations) {
  EventHub hub;
  Client client;
  ASSERT_TRUE(hub.add_callback(client.socket(), EventFamily::kDomain, 0, std::nullopt).ok());
  ASSERT_TRUE(hub.add_domain_listener(client.socket(), 0).ok());
  hub.remove_client(client.socket());
  hub.publish_domain(domain(1), DomainEventId::kLifecycle, kStarted, kBooted);
  EXPECT_FALSE(client.next());
}

}  // namespace
}  // namespace vessel::daemon
