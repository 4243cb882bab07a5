#include "daemon/event_hub.h"

#include <sys/ioctl.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <string>

#include "daemon/rpc_message.h"
#include "daemon/virt_error.h"

namespace vessel::daemon {
namespace {

// The procedures of the pushed messages: REMOTE_PROC_DOMAIN_EVENT_LIFECYCLE,
// _DOMAIN_EVENT_REBOOT (the older API), _DOMAIN_EVENT_CALLBACK_LIFECYCLE,
// _DOMAIN_EVENT_CALLBACK_REBOOT, _NETWORK_EVENT_LIFECYCLE,
// _STORAGE_POOL_EVENT_LIFECYCLE, _STORAGE_POOL_EVENT_REFRESH.
constexpr int32_t kDomainLifecycle = 107, kDomainReboot = 169, kDomainCallbackLifecycle = 318,
                  kDomainCallbackReboot = 319, kNetworkLifecycle = 315, kPoolLifecycle = 370,
                  kPoolRefresh = 373;

// How many event IDs libvirt 9.0 defines per family (VIR_*_EVENT_ID_LAST):
// clients may register for any of them, whether Vessel sends it or not.
int32_t event_id_count(EventFamily family) {
  switch (family) {
    case EventFamily::kDomain:
      return 27;
    case EventFamily::kNetwork:
      return 1;
    case EventFamily::kStoragePool:
      return 2;
  }
  return 0;
}

}  // namespace

bool ClientSocket::send(const std::vector<uint8_t>& message) {
  std::lock_guard lock(mutex_);
  size_t sent = 0;
  while (sent < message.size()) {
    ssize_t n = ::send(fd_, message.data() + sent, message.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    sent += static_cast<size_t>(n);
  }
  return true;
}

bool ClientSocket::try_send(const std::vector<uint8_t>& message) {
  std::unique_lock lock(mutex_, std::try_to_lock);
  if (!lock.owns_lock()) return false;  // a reply is being written
  int queued = 0;
  int space = 0;
  socklen_t length = sizeof space;
  ::ioctl(fd_, TIOCOUTQ, &queued);
  ::getsockopt(fd_, SOL_SOCKET, SO_SNDBUF, &space, &length);
  if (space - queued < static_cast<int>(message.size())) return false;
  ssize_t n = ::send(fd_, message.data(), message.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  return n == static_cast<ssize_t>(message.size());
}

Result<int32_t> EventHub::add_callback(ClientSocket* client, EventFamily family, int32_t event_id,
                                       std::optional<Uuid> object) {
  if (event_id < 0 || event_id >= event_id_count(family)) {
    return virt_error::make(virt_error::kInvalidArg,
                            "unsupported event ID " + std::to_string(event_id));
  }
  std::lock_guard lock(mutex_);
  int32_t id = next_callback_id_++;
  subscriptions_.push_back({client, family, event_id, id, object});
  return id;
}

Result<void> EventHub::remove_callback(ClientSocket* client, EventFamily family,
                                       int32_t callback_id) {
  std::lock_guard lock(mutex_);
  auto it = std::find_if(subscriptions_.begin(), subscriptions_.end(), [&](const Subscription& s) {
    return s.client == client && s.family == family && s.callback_id == callback_id;
  });
  if (it == subscriptions_.end()) {
    return virt_error::make(virt_error::kInvalidArg,
                            "callback " + std::to_string(callback_id) + " is not registered");
  }
  subscriptions_.erase(it);
  return Ok();
}

Result<void> EventHub::add_domain_listener(ClientSocket* client, int32_t event_id) {
  if (event_id < 0 || event_id >= event_id_count(EventFamily::kDomain)) {
    return virt_error::make(virt_error::kInvalidArg,
                            "unsupported event ID " + std::to_string(event_id));
  }
  std::lock_guard lock(mutex_);
  for (const Subscription& s : subscriptions_) {
    if (s.client == client && !s.callback_id && s.event_id == event_id) return Ok();
  }
  subscriptions_.push_back({client, EventFamily::kDomain, event_id, std::nullopt, std::nullopt});
  return Ok();
}

void EventHub::remove_domain_listener(ClientSocket* client, int32_t event_id) {
  std::lock_guard lock(mutex_);
  std::erase_if(subscriptions_, [&](const Subscription& s) {
    return s.client == client && !s.callback_id && s.event_id == event_id;
  });
}

void EventHub::remove_client(ClientSocket* client) {
  std::lock_guard lock(mutex_);
  std::erase_if(subscriptions_, [&](const Subscription& s) { return s.client == client; });
}

void EventHub::deliver(EventFamily family, int32_t event_id, const Uuid& object,
                       int32_t callback_procedure, int32_t legacy_procedure,
                       const std::function<void(XdrWriter&)>& body) {
  std::lock_guard lock(mutex_);
  for (const Subscription& s : subscriptions_) {
    if (s.family != family || s.event_id != event_id) continue;
    if (s.object && *s.object != object) continue;
    if (!s.callback_id && legacy_procedure == 0) continue;
    XdrWriter writer = rpc::begin_message({rpc::kRemoteProgram, rpc::kRemoteVersion,
                                           s.callback_id ? callback_procedure : legacy_procedure,
                                           rpc::Type::kMessage, 0, rpc::Status::kOk});
    if (s.callback_id) writer.i32(*s.callback_id);
    body(writer);
    s.client->try_send(rpc::finish(writer));
  }
}

void EventHub::publish_domain(const DomainRef& domain, DomainEventId id, int event, int detail) {
  auto put_domain = [&domain](XdrWriter& writer) {
    writer.string(domain.name);
    writer.fixed_opaque(domain.uuid);
    writer.i32(domain.id);
  };
  switch (id) {
    case DomainEventId::kLifecycle:
      deliver(EventFamily::kDomain, static_cast<int32_t>(id), domain.uuid, kDomainCallbackLifecycle,
              kDomainLifecycle, [&](XdrWriter& writer) {
                put_domain(writer);
                writer.i32(event);
                writer.i32(detail);
              });
      break;
    case DomainEventId::kReboot:
      deliver(EventFamily::kDomain, static_cast<int32_t>(id), domain.uuid, kDomainCallbackReboot,
              kDomainReboot, put_domain);
      break;
  }
}

void EventHub::publish_network(const NetworkRef& network, NetworkEvent event) {
  constexpr int32_t kLifecycle = 0;
  deliver(EventFamily::kNetwork, kLifecycle, network.uuid, kNetworkLifecycle, 0,
          [&](XdrWriter& writer) {
            writer.string(network.name);
            writer.fixed_opaque(network.uuid);
            writer.i32(static_cast<int32_t>(event));
            writer.i32(0);
          });
}

void EventHub::publish_pool(const PoolRef& pool, PoolEvent event) {
  constexpr int32_t kLifecycle = 0, kRefresh = 1;
  auto put_pool = [&pool](XdrWriter& writer) {
    writer.string(pool.name);
    writer.fixed_opaque(pool.uuid);
  };
  if (event == PoolEvent::kRefreshed) {
    deliver(EventFamily::kStoragePool, kRefresh, pool.uuid, kPoolRefresh, 0, put_pool);
    return;
  }
  deliver(EventFamily::kStoragePool, kLifecycle, pool.uuid, kPoolLifecycle, 0,
          [&](XdrWriter& writer) {
            put_pool(writer);
            writer.i32(static_cast<int32_t>(event));
            writer.i32(0);
          });
}

}  // namespace vessel::daemon
