// What every connection of the daemon works on: the managers of domains,
// networks and storage, and the hub events are published through.
#pragma once

#include "daemon/domain_manager.h"
#include "daemon/event_hub.h"
#include "daemon/network_manager.h"
#include "daemon/snapshot_manager.h"
#include "daemon/storage_manager.h"

namespace vessel::daemon {

struct DaemonContext {
  DomainManager& domains;
  NetworkManager& networks;
  EventHub& events;
  StorageManager& storage;
  SnapshotManager& snapshots;
};

// The manager of a kind of object, for handlers written once for all kinds.
template <typename Manager>
Manager& manager_of(DaemonContext& daemon);
template <>
inline DomainManager& manager_of(DaemonContext& daemon) {
  return daemon.domains;
}
template <>
inline NetworkManager& manager_of(DaemonContext& daemon) {
  return daemon.networks;
}
template <>
inline StorageManager& manager_of(DaemonContext& daemon) {
  return daemon.storage;
}

}  // namespace vessel::daemon
