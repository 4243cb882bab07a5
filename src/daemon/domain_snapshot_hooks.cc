// The small part of the snapshots that must see a domain's insides: a copy
// of what a snapshot records, the switch of disks to external overlays, the
// definition a revert brings back, and a start from a VM snapshot. Everything else is in
// snapshot_manager.cc.
#include "daemon/domain_manager.h"
#include "daemon/virt_error.h"

namespace vessel::daemon {

Result<DomainManager::SnapshotView> DomainManager::snapshot_view(const DomainRef& ref) {
  Lock lock(mutex_);
  TRY_ASSIGN(Domain * domain, find(ref));
  return SnapshotView{ref_of(*domain), domain->live ? *domain->live : domain->config,
                      domain->persistent, domain->state, domain->process};
}

Result<void> DomainManager::replace_disk_images(const DomainRef& ref,
                                                const std::vector<DiskDef>& images) {
  auto replace = [&images](DomainDef& def) {
    for (DiskDef& disk : def.disks) {
      for (const DiskDef& image : images) {
        if (disk.target == image.target) {
          disk.path = image.path;
          disk.format = image.format;
        }
      }
    }
  };
  Lock lock(mutex_);
  TRY_ASSIGN(Domain * domain, find(ref));
  DomainDef config = domain->config;
  replace(config);
  if (domain->persistent) TRY(save_definition(config));
  domain->config = std::move(config);
  if (domain->live) {
    replace(*domain->live);
    TRY(save_run_record(*domain));
  }
  return Ok();
}

Result<void> DomainManager::restore_definition(const DomainRef& ref, const DomainDef& def) {
  Lock lock(mutex_);
  TRY_ASSIGN(Domain * domain, find(ref));
  if (def.name != domain->config.name || def.uuid != domain->config.uuid) {
    return virt_error::make(virt_error::kOperationInvalid,
                            "the snapshot's definition names another domain");
  }
  if (domain->persistent) TRY(save_definition(def));
  domain->config = def;
  return Ok();
}

Result<DomainRef> DomainManager::start_from_snapshot(const DomainRef& ref,
                                                     const std::string& snapshot) {
  Lock lock(mutex_);
  TRY_ASSIGN(Domain * domain, find(ref));
  if (domain->process) {
    return virt_error::make(virt_error::kOperationInvalid, "domain is already running");
  }
  TRY(start_locked(*domain, domain->config, "", snapshot));
  domain->reason = reason::kRunningFromSnapshot;
  return ref_of(*domain);
}

}  // namespace vessel::daemon
