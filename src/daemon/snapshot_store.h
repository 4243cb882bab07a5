// The snapshot metadata of each domain, kept in the state directory so that
// it outlives the daemon, as libvirt's does:
//
//   DIR/snapshots/DOMAIN/NAME.xml   one snapshot (snapshot_xml.h)
//   DIR/snapshots/DOMAIN/current    the name of the current snapshot
//
// Every file is written atomically. The files are the only copy: each call
// reads them, so nothing can go stale across daemons.
#pragma once

#include <string>
#include <vector>

#include "base/result.h"
#include "daemon/snapshot_xml.h"
#include "daemon/state_dir.h"

namespace vessel::daemon {

class SnapshotStore {
 public:
  explicit SnapshotStore(StateDir dir) : dir_(std::move(dir)) {}

  // Every snapshot of `domain`, oldest first; unreadable files are logged
  // and skipped.
  std::vector<SnapshotDef> list(const std::string& domain) const;
  // VIR_ERR_NO_DOMAIN_SNAPSHOT when there is none of that name.
  Result<SnapshotDef> load(const std::string& domain, const std::string& name) const;
  bool exists(const std::string& domain, const std::string& name) const;
  Result<void> save(const std::string& domain, const SnapshotDef& def);
  Result<void> remove(const std::string& domain, const std::string& name);
  // Every snapshot's metadata (undefine --snapshots-metadata).
  Result<void> remove_all(const std::string& domain);

  // The current snapshot's name, empty if there is none.
  std::string current(const std::string& domain) const;
  // An empty name clears it.
  Result<void> set_current(const std::string& domain, const std::string& name);

 private:
  std::string file(const std::string& domain, const std::string& name) const;
  std::string current_file(const std::string& domain) const;

  StateDir dir_;
};

}  // namespace vessel::daemon
