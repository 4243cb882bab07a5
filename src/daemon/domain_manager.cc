#include "daemon/domain_manager.h"

#include <signal.h>

#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>

#include "base/log.h"
#include "daemon/domain_xml.h"
#include "daemon/object_identity.h"
#include "daemon/save_image.h"
#include "daemon/virt_error.h"
#include "daemon/vm_command.h"

namespace vessel::daemon {
namespace {

using namespace std::chrono_literals;
using virt_error::make;

// libvirt's details of the lifecycle events Vessel sends.
constexpr int kDefinedAdded = 0, kDefinedUpdated = 1, kUndefinedRemoved = 0, kStartedBooted = 0,
              kSuspendedPaused = 0, kResumedUnpaused = 0, kStoppedShutdown = 0,
              kStoppedDestroyed = 1, kStoppedCrashed = 2, kStoppedMigrated = 3, kStoppedSaved = 4,
              kShutdownFinished = 0;

// How long `destroy` lets a VM end on SIGTERM (flushing its disks) before
// SIGKILL, as libvirt does.
constexpr auto kTermGrace = 10s;

Error not_running(const std::string& name) {
  return make(virt_error::kOperationInvalid, "domain '" + name + "' is not running");
}

}  // namespace

DomainManager::DomainManager(StateDir dir, std::string vessel_path, NetworkManager& networks)
    : dir_(std::move(dir)), vessel_path_(std::move(vessel_path)), networks_(networks) {}

void DomainManager::set_event_listener(EventListener listener) {
  Lock lock(mutex_);
  listener_ = std::move(listener);
}

void DomainManager::emit(const Domain& domain, LifecycleEvent event, int detail) {
  if (listener_)
    listener_(ref_of(domain), DomainEventId::kLifecycle, static_cast<int>(event), detail);
}

DomainRef DomainManager::ref_of(const Domain& domain) const {
  return {domain.config.name, domain.config.uuid, domain.id};
}

Result<DomainManager::Domain*> DomainManager::find(const DomainRef& ref) {
  // Clients name a domain by all of name, UUID and id; the UUID decides, as
  // in libvirt.
  for (auto& [name, domain] : domains_) {
    if (domain.config.uuid == ref.uuid) return &domain;
  }
  return make(virt_error::kNoDomain,
              "no domain with matching uuid '" + format_uuid(ref.uuid) + "' (" + ref.name + ")");
}

Result<DomainManager::Domain*> DomainManager::find_active(const DomainRef& ref) {
  TRY_ASSIGN(Domain * domain, find(ref));
  if (!domain->process) return not_running(domain->config.name);
  return domain;
}

std::vector<DomainRef> DomainManager::list(unsigned flags) {
  using namespace list_flags;
  Lock lock(mutex_);
  std::vector<DomainRef> out;
  for (const auto& [name, domain] : domains_) {
    bool active = domain.process != nullptr;
    auto pass = [&](unsigned yes, unsigned no, bool value) {
      return (flags & (yes | no)) == 0 || (value ? flags & yes : flags & no);
    };
    bool running = active && domain.state == DomainState::kRunning;
    bool paused = active && domain.state == DomainState::kPaused;
    if (!pass(kActive, kInactive, active) || !pass(kPersistent, kTransient, domain.persistent) ||
        !pass(kAutostart, kNoAutostart, domain.autostart)) {
      continue;
    }
    if ((flags & (kRunning | kPaused | kShutoff | kOther)) != 0 &&
        !((flags & kRunning && running) || (flags & kPaused && paused) ||
          (flags & kShutoff && !active) || (flags & kOther && active && !running && !paused))) {
      continue;
    }
    out.push_back(ref_of(domain));
  }
  return out;
}

Result<DomainRef> DomainManager::lookup_by_name(const std::string& name) {
  Lock lock(mutex_);
  auto it = domains_.find(name);
  if (it == domains_.end()) {
    return make(virt_error::kNoDomain, "no domain with matching name '" + name + "'");
  }
  return ref_of(it->second);
}

Result<DomainRef> DomainManager::lookup_by_uuid(const Uuid& uuid) {
  Lock lock(mutex_);
  TRY_ASSIGN(Domain * domain, find({"", uuid, -1}));
  return ref_of(*domain);
}

Result<DomainRef> DomainManager::lookup_by_id(int id) {
  Lock lock(mutex_);
  for (const auto& [name, domain] : domains_) {
    if (domain.process && domain.id == id) return ref_of(domain);
  }
  return make(virt_error::kNoDomain, "no domain with matching id " + std::to_string(id));
}

Result<void> DomainManager::save_definition(const DomainDef& def) {
  return write_file_atomically(dir_.definition(def.name), format_domain_xml(def, -1));
}

Result<void> DomainManager::save_run_record(const Domain& domain) {
  nlohmann::json record = {{"pid", domain.process->pid()},
                           {"start_time", domain.process->start_time()},
                           {"id", domain.id},
                           {"persistent", domain.persistent},
                           {"xml", format_domain_xml(*domain.live, domain.id)}};
  return write_file_atomically(dir_.run_record(domain.config.name), record.dump());
}

// A name stands for one UUID and a UUID for one name, as in libvirt.
Result<void> DomainManager::check_identity(const DomainDef& def) {
  return daemon::check_identity("domain", def.name, def.uuid, domains_,
                                [](const Domain& domain) { return domain.config.uuid; });
}

Result<DomainRef> DomainManager::define(const std::string& xml) {
  TRY_ASSIGN(DomainDef def, parse_domain_xml(xml));
  Lock lock(mutex_);
  TRY(check_identity(def));
  auto existing = domains_.find(def.name);
  bool update = existing != domains_.end() && existing->second.persistent;
  TRY(save_definition(def));
  Domain& domain = domains_[def.name];
  domain.config = std::move(def);
  domain.persistent = true;
  emit(domain, LifecycleEvent::kDefined, update ? kDefinedUpdated : kDefinedAdded);
  return ref_of(domain);
}

Result<void> DomainManager::undefine(const DomainRef& ref) {
  Lock lock(mutex_);
  TRY_ASSIGN(Domain * domain, find(ref));
  if (!domain->persistent) {
    return make(virt_error::kOperationInvalid, "cannot undefine transient domain");
  }
  const std::string name = domain->config.name;
  TRY(remove_file_durably(dir_.definition(name)));
  TRY(remove_file_durably(dir_.autostart_mark(name)));
  domain->autostart = false;
  emit(*domain, LifecycleEvent::kUndefined, kUndefinedRemoved);
  if (domain->process) {
    domain->persistent = false;  // it runs on, and goes when it stops
    TRY(save_run_record(*domain));
  } else {
    domains_.erase(name);
  }
  return Ok();
}

Result<std::vector<std::string>> DomainManager::command_for(const DomainDef& def,
                                                            const std::string& incoming,
                                                            const std::string& loadvm) {
  VmPaths paths{vessel_path_,
                dir_.control_socket(def.name),
                dir_.serial_socket(def.name),
                dir_.console_log(def.name),
                incoming,
                loadvm};
  auto network_nic = [this](const std::string& network, const std::string& mac) {
    return networks_.nic_for(network, mac);
  };
  return vm_command(def, paths, network_nic);
}

QmpClient::EventHandler DomainManager::event_handler(const std::string& name, uint64_t generation) {
  return [this, name, generation](const std::string& event, const nlohmann::json&) {
    on_qmp_event(name, generation, event);
  };
}

VmProcess::ExitHandler DomainManager::exit_handler(const std::string& name, uint64_t generation) {
  return [this, name, generation](const VmExitInfo& info) { on_exit(name, generation, info); };
}

void DomainManager::adopt_started(Domain& domain, const DomainDef& def,
                                  std::shared_ptr<VmProcess> process, uint64_t generation) {
  domain.process = std::move(process);
  domain.generation = generation;
  domain.live = def;
  domain.id = next_id_++;
  domain.state = DomainState::kRunning;
  domain.reason = reason::kRunningBooted;
  domain.destroy_requested = domain.restart_requested = domain.shutdown_seen = false;
  domain.save_requested = domain.migrated = false;
  if (auto saved = save_run_record(domain); !saved.ok()) {
    LOG_WARN("%s: %s", def.name.c_str(), saved.error().message().c_str());
  }
  emit(domain, LifecycleEvent::kStarted, kStartedBooted);
}

Result<void> DomainManager::start_locked(Domain& domain, const DomainDef& def,
                                         const std::string& incoming, const std::string& loadvm) {
  const std::string name = domain.config.name;
  TRY_ASSIGN(std::vector<std::string> argv, command_for(def, incoming, loadvm));
  uint64_t generation = next_generation_++;
  auto process = VmProcess::start(argv, dir_.control_socket(name), dir_.log_file(name),
                                  event_handler(name, generation), exit_handler(name, generation));
  if (!process.ok()) {
    return make(virt_error::kOperationFailed,
                "domain '" + name + "' did not start: " + process.error().message());
  }
  adopt_started(domain, def, std::move(*process), generation);
  return Ok();
}

Result<DomainRef> DomainManager::start(const DomainRef& ref, bool paused) {
  DomainRef started;
  {
    Lock lock(mutex_);
    TRY_ASSIGN(Domain * domain, find(ref));
    if (domain->process) {
      return make(virt_error::kOperationInvalid, "domain is already running");
    }
    // After `virsh managedsave`, a start continues the saved VM; the image
    // is used up once the VM has read it (before its control socket opens).
    const std::string saved = dir_.managed_save(domain->config.name);
    if (::access(saved.c_str(), F_OK) == 0) {
      auto header = read_save_header(saved);
      if (!header.ok()) return make(virt_error::kOperationFailed, header.error().message());
      TRY_ASSIGN(DomainDef def, parse_domain_xml(header->xml));
      TRY(restore_locked(*domain, def, saved, header->state_offset));
      (void)remove_file_durably(saved);
    } else {
      TRY(start_locked(*domain, domain->config));
    }
    started = ref_of(*domain);
  }
  if (paused) TRY(suspend(started));
  return started;
}

// The entry a transient start (create, restore) runs in: refused if the name
// or UUID belongs to another domain or the domain runs; an inactive
// persistent domain of that name runs with `def` once and keeps its own
// definition for the next start, as in libvirt.
Result<DomainManager::Domain*> DomainManager::add_for_start(const DomainDef& def, bool* is_new) {
  TRY(check_identity(def));
  auto existing = domains_.find(def.name);
  if (existing != domains_.end() && existing->second.process) {
    return make(virt_error::kOperationInvalid, "domain '" + def.name + "' is already active");
  }
  *is_new = existing == domains_.end();
  Domain& domain = domains_[def.name];
  if (*is_new) domain.config = def;
  return &domain;
}

Result<DomainRef> DomainManager::create_transient(const std::string& xml, bool paused) {
  TRY_ASSIGN(DomainDef def, parse_domain_xml(xml));
  DomainRef started;
  {
    Lock lock(mutex_);
    bool is_new = false;
    TRY_ASSIGN(Domain * domain, add_for_start(def, &is_new));
    if (auto result = start_locked(*domain, def); !result.ok()) {
      if (is_new) domains_.erase(def.name);
      return result.error();
    }
    started = ref_of(*domain);
  }
  if (paused) TRY(suspend(started));
  return started;
}

Result<void> DomainManager::run_on_vm(const DomainRef& ref, const char* command) {
  std::shared_ptr<VmProcess> process;
  {
    Lock lock(mutex_);
    TRY_ASSIGN(Domain * domain, find_active(ref));
    process = domain->process;
  }
  auto done = process->qmp().execute(command);
  if (!done.ok()) return make(virt_error::kOperationFailed, done.error().message());
  return Ok();
}

Result<void> DomainManager::shutdown(const DomainRef& ref) {
  return run_on_vm(ref, "system_powerdown");
}

Result<void> DomainManager::reboot(const DomainRef& ref) {
  // A clean reboot: the guest powers off on the button and the daemon
  // starts it again, as libvirt's default reboot for QEMU does.
  {
    Lock lock(mutex_);
    TRY_ASSIGN(Domain * domain, find_active(ref));
    domain->restart_requested = true;
  }
  return run_on_vm(ref, "system_powerdown");
}

Result<void> DomainManager::reset(const DomainRef& ref) {
  return run_on_vm(ref, "system_reset");
}

Result<void> DomainManager::suspend(const DomainRef& ref) {
  TRY(run_on_vm(ref, "stop"));
  Lock lock(mutex_);
  TRY_ASSIGN(Domain * domain, find_active(ref));
  domain->state = DomainState::kPaused;  // the STOP event may come later
  domain->reason = reason::kPausedUser;
  return Ok();
}

Result<void> DomainManager::resume(const DomainRef& ref) {
  TRY(run_on_vm(ref, "cont"));
  Lock lock(mutex_);
  TRY_ASSIGN(Domain * domain, find_active(ref));
  domain->state = DomainState::kRunning;
  domain->reason = reason::kRunningUnpaused;
  return Ok();
}

void DomainManager::wait_until_stopped(Lock& lock, std::string name, uint64_t generation) {
  auto ended = [&] {
    auto it = domains_.find(name);
    return it == domains_.end() || it->second.generation != generation || !it->second.process;
  };
  if (!stopped_.wait_for(lock, kTermGrace, ended)) {
    domains_.at(name).process->signal(SIGKILL);
    stopped_.wait(lock, ended);
  }
}

Result<void> DomainManager::destroy(const DomainRef& ref) {
  Lock lock(mutex_);
  TRY_ASSIGN(Domain * domain, find_active(ref));
  domain->destroy_requested = true;
  domain->restart_requested = false;
  domain->process->signal(SIGTERM);
  wait_until_stopped(lock, domain->config.name, domain->generation);
  return Ok();
}

void DomainManager::on_qmp_event(const std::string& name, uint64_t generation,
                                 const std::string& event) {
  Lock lock(mutex_);
  auto it = domains_.find(name);
  if (it == domains_.end() || it->second.generation != generation) return;
  Domain& domain = it->second;
  if (event == "STOP") {
    domain.state = DomainState::kPaused;
    domain.reason = reason::kPausedUser;
    emit(domain, LifecycleEvent::kSuspended, kSuspendedPaused);
  } else if (event == "RESUME") {
    domain.state = DomainState::kRunning;
    domain.reason = reason::kRunningUnpaused;
    emit(domain, LifecycleEvent::kResumed, kResumedUnpaused);
  } else if (event == "SHUTDOWN") {
    domain.shutdown_seen = true;
    // A destroy's SIGTERM makes the VM report a shutdown too; libvirt's
    // clients see only the destroy.
    if (!domain.destroy_requested) emit(domain, LifecycleEvent::kShutdown, kShutdownFinished);
  } else if (event == "RESET") {
    if (listener_) listener_(ref_of(domain), DomainEventId::kReboot, 0, 0);
  }
}

void DomainManager::on_exit(const std::string& name, uint64_t generation, const VmExitInfo& exit) {
  std::shared_ptr<VmProcess> ended;  // released after the lock
  if (!exit.known) {
    // A VM taken over from an earlier daemon: no exit status, so how it
    // ended is told by its last events. The process is gone; its socket's
    // remaining events arrive before the reader sees the socket close.
    Lock lock(mutex_);
    auto it = domains_.find(name);
    if (it == domains_.end() || it->second.generation != generation) return;
    ended = it->second.process;
    lock.unlock();
    if (ended) ended->qmp().wait_closed(std::chrono::seconds(5));
  }
  Lock lock(mutex_);
  auto it = domains_.find(name);
  if (it == domains_.end() || it->second.generation != generation) return;
  Domain& domain = it->second;
  ended = std::move(domain.process);
  // Exit status 0 is a power-off; 2 a reboot request the VM was told not to
  // honour in place. Anything else, or an end without SHUTDOWN, is a crash.
  bool clean =
      exit.known ? exit.exited && (exit.status == 0 || exit.status == 2) : domain.shutdown_seen;
  int detail;
  if (domain.migrated) {
    domain.reason = reason::kShutoffMigrated;
    detail = kStoppedMigrated;
  } else if (domain.save_requested) {
    domain.reason = reason::kShutoffSaved;
    detail = kStoppedSaved;
  } else if (domain.destroy_requested) {
    domain.reason = reason::kShutoffDestroyed;
    detail = kStoppedDestroyed;
  } else if (clean) {
    domain.reason = reason::kShutoffShutdown;
    detail = kStoppedShutdown;
  } else {
    domain.reason = reason::kShutoffCrashed;
    detail = kStoppedCrashed;
    LOG_WARN("domain '%s' ended unexpectedly (%s %d); see %s", name.c_str(),
             exit.exited ? "exit status" : "signal", exit.status, dir_.log_file(name).c_str());
  }
  domain.state = DomainState::kShutoff;
  domain.id = -1;
  domain.live.reset();
  if (auto removed = remove_file_durably(dir_.run_record(name)); !removed.ok()) {
    LOG_WARN("%s", removed.error().message().c_str());
  }
  emit(domain, LifecycleEvent::kStopped, detail);
  bool restart = !domain.destroy_requested && !domain.save_requested && !domain.migrated &&
                 (domain.restart_requested ||
                  (clean && domain.config.on_poweroff == LifecycleAction::kRestart) ||
                  (!clean && domain.config.on_crash == LifecycleAction::kRestart));
  if (restart) {
    if (auto started = start_locked(domain, domain.config); !started.ok()) {
      LOG_WARN("%s", started.error().message().c_str());
    }
  }
  if (!domain.process && !domain.persistent) domains_.erase(it);
  stopped_.notify_all();
}

Result<std::pair<DomainState, int>> DomainManager::state(const DomainRef& ref) {
  Lock lock(mutex_);
  TRY_ASSIGN(Domain * domain, find(ref));
  return std::pair{domain->state, domain->reason};
}

Result<DomainInfo> DomainManager::info(const DomainRef& ref) {
  Lock lock(mutex_);
  TRY_ASSIGN(Domain * domain, find(ref));
  const DomainDef& def = domain->live ? *domain->live : domain->config;
  return DomainInfo{domain->state, def.memory_kib, def.current_memory_kib, def.vcpus,
                    domain->process ? domain->process->cpu_time_ns() : 0};
}

Result<std::string> DomainManager::xml(const DomainRef& ref, bool inactive) {
  Lock lock(mutex_);
  TRY_ASSIGN(Domain * domain, find(ref));
  if (domain->live && !inactive) return format_domain_xml(*domain->live, domain->id);
  return format_domain_xml(domain->config, -1);
}

Result<std::string> DomainManager::console_socket(const DomainRef& ref) {
  Lock lock(mutex_);
  TRY_ASSIGN(Domain * domain, find_active(ref));
  return dir_.serial_socket(domain->config.name);
}

Result<bool> DomainManager::is_active(const DomainRef& ref) {
  Lock lock(mutex_);
  TRY_ASSIGN(Domain * domain, find(ref));
  return domain->process != nullptr;
}

Result<bool> DomainManager::is_persistent(const DomainRef& ref) {
  Lock lock(mutex_);
  TRY_ASSIGN(Domain * domain, find(ref));
  return domain->persistent;
}

Result<bool> DomainManager::autostart(const DomainRef& ref) {
  Lock lock(mutex_);
  TRY_ASSIGN(Domain * domain, find(ref));
  return domain->autostart;
}

Result<void> DomainManager::set_autostart(const DomainRef& ref, bool autostart) {
  Lock lock(mutex_);
  TRY_ASSIGN(Domain * domain, find(ref));
  if (!domain->persistent) {
    return make(virt_error::kOperationInvalid, "cannot set autostart for transient domain");
  }
  const std::string mark = dir_.autostart_mark(domain->config.name);
  TRY(autostart ? write_file_atomically(mark, "") : remove_file_durably(mark));
  domain->autostart = autostart;
  return Ok();
}

Result<void> DomainManager::change_device(const DomainRef& ref, const std::string& xml,
                                          unsigned flags, bool detach) {
  constexpr unsigned kAffectLive = 1, kAffectConfig = 2;
  Lock lock(mutex_);
  TRY_ASSIGN(Domain * domain, find(ref));
  if (flags == 0) flags = domain->process ? kAffectLive : kAffectConfig;  // AFFECT_CURRENT
  if (flags & kAffectLive) {
    if (!domain->process) return not_running(domain->config.name);
    return make(virt_error::kOperationUnsupported,
                std::string(detach ? "detaching" : "attaching") +
                    " devices to a running Vessel VM is not supported live; use --config");
  }
  if (!domain->persistent) {
    return make(virt_error::kOperationInvalid,
                "cannot modify the configuration of a transient domain");
  }
  DomainDef changed = domain->config;
  TRY(apply_device_xml(changed, xml, detach));
  TRY(save_definition(changed));
  domain->config = std::move(changed);
  return Ok();
}

void DomainManager::recover() {
  Lock lock(mutex_);
  for (const std::string& name : dir_.defined_names()) {
    auto text = read_whole_file(dir_.definition(name));
    auto def = text.ok() ? parse_domain_xml(*text) : Result<DomainDef>(text.error());
    if (!def.ok() || def->name != name) {
      LOG_ERROR("%s: %s", dir_.definition(name).c_str(),
                def.ok() ? "names another domain" : def.error().message().c_str());
      continue;
    }
    Domain& domain = domains_[name];
    domain.config = std::move(*def);
    domain.persistent = true;
    domain.autostart = access(dir_.autostart_mark(name).c_str(), F_OK) == 0;
  }
  std::vector<DomainRef> adopted;
  for (const std::string& name : dir_.running_names()) {
    auto text = read_whole_file(dir_.run_record(name));
    nlohmann::json record = nlohmann::json::parse(text.ok() ? *text : "", nullptr, false);
    auto live = parse_domain_xml(record.is_object() ? record.value("xml", "") : "");
    uint64_t generation = next_generation_++;
    auto on_event = event_handler(name, generation);
    auto exited = exit_handler(name, generation);
    auto process = live.ok() ? VmProcess::adopt(record.value("pid", 0),
                                                record.value("start_time", uint64_t{0}),
                                                dir_.control_socket(name), on_event, exited)
                             : Result<std::shared_ptr<VmProcess>>(Error("unreadable run record"));
    if (!process.ok()) {
      LOG_WARN("domain '%s' is no longer running: %s", name.c_str(),
               process.error().message().c_str());
      (void)remove_file_durably(dir_.run_record(name));
      continue;
    }
    Domain& domain = domains_[name];
    if (!record.value("persistent", false) || !domain.persistent) {
      domain.config = *live;
      domain.persistent = false;
    }
    domain.live = std::move(*live);
    domain.process = std::move(*process);
    domain.generation = generation;
    domain.id = record.value("id", 0);
    domain.state = DomainState::kRunning;
    domain.reason = reason::kRunningBooted;
    next_id_ = std::max(next_id_, domain.id + 1);
    adopted.push_back(ref_of(domain));
  }
  for (auto& [name, domain] : domains_) {
    if (domain.autostart && !domain.process) {
      if (auto started = start_locked(domain, domain.config); !started.ok()) {
        LOG_ERROR("autostart: %s", started.error().message().c_str());
      }
    }
  }
  lock.unlock();
  // A VM the previous daemon had paused is still paused.
  for (const DomainRef& ref : adopted) {
    std::shared_ptr<VmProcess> process;
    {
      Lock relock(mutex_);
      auto domain = find(ref);
      if (!domain.ok() || !(*domain)->process) continue;
      process = (*domain)->process;
    }
    auto status = process->qmp().execute("query-status");
    if (status.ok() && status->value("status", "") == "paused") {
      Lock relock(mutex_);
      if (auto domain = find(ref); domain.ok()) {
        (*domain)->state = DomainState::kPaused;
        (*domain)->reason = reason::kPausedUser;
      }
    }
  }
}

}  // namespace vessel::daemon
