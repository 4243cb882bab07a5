// virsh save / restore / managedsave: the VM's state goes into a save image
// (save_image.h) through its own QMP `migrate` to an exec: command, then the
// VM process ends; restore starts a `vessel run --incoming` from the image.
#include <signal.h>
#include <unistd.h>

#include "daemon/domain_manager.h"
#include "daemon/domain_xml.h"
#include "daemon/save_image.h"
#include "daemon/virt_error.h"

namespace vessel::daemon {
using virt_error::make;

Result<void> DomainManager::save(const DomainRef& ref, const std::string& path) {
  std::shared_ptr<VmProcess> process;
  std::string xml;
  bool was_running;
  {
    Lock lock(mutex_);
    TRY_ASSIGN(Domain * domain, find_active(ref));
    process = domain->process;
    xml = format_domain_xml(*domain->live, -1);
    was_running = domain->state == DomainState::kRunning;
  }
  if (path.empty() || path[0] != '/') {
    return make(virt_error::kInvalidArg, "the save file needs an absolute path: '" + path + "'");
  }
  if (auto written = write_save_header(path, xml); !written.ok()) {
    return make(virt_error::kOperationFailed, written.error().message());
  }
  QmpClient& qmp = process->qmp();
  auto saved = [&]() -> Result<void> {
    TRY(qmp.execute("stop"));
    TRY(qmp.execute("migrate", {{"uri", "exec:cat >> " + shell_quote(path)}}));
    return wait_for_migration(qmp);
  }();
  if (!saved.ok()) {
    ::unlink(path.c_str());
    if (was_running) (void)qmp.execute("cont");
    return make(virt_error::kOperationFailed, saved.error().message());
  }
  Lock lock(mutex_);
  TRY_ASSIGN(Domain * domain, find_active(ref));
  domain->save_requested = true;
  domain->process->signal(SIGTERM);
  wait_until_stopped(lock, domain->config.name, domain->generation);
  return Ok();
}

Result<void> DomainManager::restore_locked(Domain& domain, const DomainDef& def,
                                           const std::string& path, uint64_t state_offset) {
  // tail's offsets count from 1.
  TRY(start_locked(domain, def,
                   "exec:tail -c +" + std::to_string(state_offset + 1) + " " + shell_quote(path)));
  domain.reason = reason::kRunningRestored;
  return Ok();
}

Result<DomainRef> DomainManager::restore(const std::string& path, bool paused) {
  auto header = read_save_header(path);
  if (!header.ok()) return make(virt_error::kOperationFailed, header.error().message());
  TRY_ASSIGN(DomainDef def, parse_domain_xml(header->xml));
  DomainRef restored;
  {
    Lock lock(mutex_);
    bool is_new = false;
    TRY_ASSIGN(Domain * domain, add_for_start(def, &is_new));
    if (auto result = restore_locked(*domain, def, path, header->state_offset); !result.ok()) {
      if (is_new) domains_.erase(def.name);
      return result.error();
    }
    restored = ref_of(*domain);
  }
  if (paused) TRY(suspend(restored));
  return restored;
}

Result<void> DomainManager::managed_save(const DomainRef& ref) {
  std::string name;
  {
    Lock lock(mutex_);
    TRY_ASSIGN(Domain * domain, find_active(ref));
    if (!domain->persistent) {
      return make(virt_error::kOperationInvalid, "cannot do managed save for transient domain");
    }
    name = domain->config.name;
  }
  return save(ref, dir_.managed_save(name));
}

Result<bool> DomainManager::has_managed_save(const DomainRef& ref) {
  Lock lock(mutex_);
  TRY_ASSIGN(Domain * domain, find(ref));
  return ::access(dir_.managed_save(domain->config.name).c_str(), F_OK) == 0;
}

Result<void> DomainManager::remove_managed_save(const DomainRef& ref) {
  Lock lock(mutex_);
  TRY_ASSIGN(Domain * domain, find(ref));
  return remove_file_durably(dir_.managed_save(domain->config.name));
}

}  // namespace vessel::daemon
