// Events for the clients that registered for them. The managers publish
// (domain lifecycle and reboot, network lifecycle, storage pool lifecycle and
// refresh); each subscribed connection gets libvirt's message pushed to its
// socket. Two registration styles coexist, as in libvirt:
//  - callbacks (CONNECT_*_EVENT_*REGISTER_ANY, feature 14): each
//    registration gets a callback ID that its messages carry, and may name
//    one object whose events alone it wants;
//  - the older domain-only DOMAIN_EVENT_REGISTER_ANY, one per event ID and
//    connection, whose messages carry no ID.
// Publishing never blocks on a client: a client whose socket is full loses
// the event rather than stalling every operation behind it.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <vector>

#include "base/result.h"
#include "daemon/domain_manager.h"
#include "daemon/network_manager.h"
#include "daemon/storage_manager.h"
#include "daemon/xdr.h"

namespace vessel::daemon {

// One client socket that more than one thread writes to: its connection
// thread (replies) and publishers (events). Whole messages, never interleaved.
class ClientSocket {
 public:
  explicit ClientSocket(int fd) : fd_(fd) {}
  int fd() const { return fd_; }
  // Blocks until sent; false once the client is gone.
  bool send(const std::vector<uint8_t>& message);
  // Sends only if the socket can take the whole message now.
  bool try_send(const std::vector<uint8_t>& message);

 private:
  int fd_;
  std::mutex mutex_;
};

// The kinds of object events are about; each numbers its event IDs itself.
enum class EventFamily { kDomain, kNetwork, kStoragePool };

class EventHub {
 public:
  // A callback registration for `event_id` of `family` (only `object`'s
  // events if given). Returns its callback ID; an event ID libvirt does not
  // define is an invalid argument.
  Result<int32_t> add_callback(ClientSocket* client, EventFamily family, int32_t event_id,
                               std::optional<Uuid> object);
  Result<void> remove_callback(ClientSocket* client, EventFamily family, int32_t callback_id);
  // The older domain registration; registering twice is harmless.
  Result<void> add_domain_listener(ClientSocket* client, int32_t event_id);
  void remove_domain_listener(ClientSocket* client, int32_t event_id);
  // Everything `client` registered, when it goes.
  void remove_client(ClientSocket* client);

  void publish_domain(const DomainRef& domain, DomainEventId id, int event, int detail);
  void publish_network(const NetworkRef& network, NetworkEvent event);
  void publish_pool(const PoolRef& pool, PoolEvent event);

 private:
  struct Subscription {
    ClientSocket* client;
    EventFamily family;
    int32_t event_id;
    std::optional<int32_t> callback_id;  // none: the older domain API
    std::optional<Uuid> object;
  };
  // Sends one message per matching subscription: `body` encodes what follows
  // the callback ID (callback procedure) or the whole payload (the older
  // one, if the event has such a procedure).
  void deliver(EventFamily family, int32_t event_id, const Uuid& object, int32_t callback_procedure,
               int32_t legacy_procedure, const std::function<void(XdrWriter&)>& body);

  std::mutex mutex_;
  std::vector<Subscription> subscriptions_;
  int32_t next_callback_id_ = 1;
};

}  // namespace vessel::daemon
