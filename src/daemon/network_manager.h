// The daemon's virtual networks: definitions (persistent or transient),
// which are active, autostart. A network has no process of its own: its
// forward mode decides the NIC backend each VM on it gets (network_def.h).
// libvirt's "default" NAT network is defined and started on a daemon's
// first start, as a libvirt installation provides it.
#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "base/result.h"
#include "daemon/network_def.h"
#include "daemon/state_dir.h"

namespace vessel::daemon {

struct NetworkRef {
  std::string name;
  Uuid uuid{};
};

namespace network_list_flags {
inline constexpr unsigned kInactive = 1, kActive = 2, kPersistent = 4, kTransient = 8,
                          kAutostart = 16, kNoAutostart = 32;
}

// libvirt's network lifecycle events (virNetworkEventLifecycleType).
enum class NetworkEvent { kDefined = 0, kUndefined = 1, kStarted = 2, kStopped = 3 };

class NetworkManager {
 public:
  using EventListener = std::function<void(const NetworkRef&, NetworkEvent)>;

  explicit NetworkManager(const StateDir& dir) : dir_(dir) {}
  void set_event_listener(EventListener listener);

  // Loads the definitions and active networks; on the first start of a
  // state directory, defines and starts "default".
  void recover();

  std::vector<NetworkRef> list(unsigned flags);
  Result<NetworkRef> lookup_by_name(const std::string& name);
  Result<NetworkRef> lookup_by_uuid(const Uuid& uuid);
  Result<NetworkRef> define(const std::string& xml);
  Result<NetworkRef> create_transient(const std::string& xml);
  Result<void> start(const NetworkRef& ref);
  Result<void> destroy(const NetworkRef& ref);
  Result<void> undefine(const NetworkRef& ref);
  Result<std::string> xml(const NetworkRef& ref);
  Result<std::string> bridge_name(const NetworkRef& ref);
  Result<bool> is_active(const NetworkRef& ref);
  Result<bool> is_persistent(const NetworkRef& ref);
  Result<bool> autostart(const NetworkRef& ref);
  Result<void> set_autostart(const NetworkRef& ref, bool autostart);

  // The --nic value for a NIC with `mac` on the active network `name`.
  Result<std::string> nic_for(const std::string& name, const std::string& mac);

 private:
  struct Network {
    NetworkDef def;
    bool persistent = false;
    bool active = false;
    bool autostart = false;
  };
  Result<Network*> find(const NetworkRef& ref);
  Result<void> check_unique(const NetworkDef& def, bool may_replace_inactive);
  Result<void> activate(Network& network);
  void emit(const Network& network, NetworkEvent event);
  NetworkRef ref_of(const Network& network) const { return {network.def.name, network.def.uuid}; }

  StateDir dir_;
  std::mutex mutex_;
  std::map<std::string, Network> networks_;
  EventListener listener_;
};

}  // namespace vessel::daemon
