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

}  // namespace vessel::daemon
