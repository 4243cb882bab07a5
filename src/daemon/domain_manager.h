// The domains one daemon manages: definitions (persistent on disk, or
// transient), the VM process of each running one, and their lifecycle.
// Every operation returns libvirt's error kinds (virt_error.h) so that the
// remote protocol layer only encodes.
//
// Locking: one mutex guards the table. It is never held while waiting for a
// VM's QMP answer (the QMP reader thread takes it to deliver events).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "daemon/domain_def.h"
#include "daemon/network_manager.h"
#include "daemon/state_dir.h"
#include "daemon/vm_process.h"

namespace vessel::daemon {

// How a client names a domain (libvirt's remote_nonnull_domain).
struct DomainRef {
  std::string name;
  Uuid uuid{};
  int id = -1;
};

// libvirt's virDomainState and the reasons Vessel reports.
enum class DomainState { kRunning = 1, kPaused = 3, kShutdown = 4, kShutoff = 5 };
namespace reason {
inline constexpr int kUnknown = 0;
inline constexpr int kRunningBooted = 1;
inline constexpr int kRunningMigrated = 2;
inline constexpr int kRunningRestored = 3;
inline constexpr int kRunningUnpaused = 5;
inline constexpr int kRunningFromSnapshot = 4;
inline constexpr int kPausedUser = 1;
inline constexpr int kShutdownUser = 1;
inline constexpr int kShutoffShutdown = 1;
inline constexpr int kShutoffDestroyed = 2;
inline constexpr int kShutoffCrashed = 3;
inline constexpr int kShutoffMigrated = 4;
inline constexpr int kShutoffSaved = 5;
}  // namespace reason

// libvirt's lifecycle events (virDomainEventType) and their details.
enum class LifecycleEvent {
  kDefined = 0,
  kUndefined = 1,
  kStarted = 2,
  kSuspended = 3,
  kResumed = 4,
  kStopped = 5,
  kShutdown = 6
};

// libvirt's domain event IDs (virDomainEventID) that Vessel sends: the
// lifecycle events above, and a guest's reset (its reboot in place).
enum class DomainEventId { kLifecycle = 0, kReboot = 1 };

struct DomainInfo {
  DomainState state;
  uint64_t max_memory_kib;
  uint64_t memory_kib;
  uint32_t vcpus;
  uint64_t cpu_time_ns;
};

// virConnectListAllDomainsFlags that Vessel can answer.
namespace list_flags {
inline constexpr unsigned kActive = 1, kInactive = 2, kPersistent = 4, kTransient = 8,
                          kRunning = 16, kPaused = 32, kShutoff = 64, kOther = 128,
                          kAutostart = 1024, kNoAutostart = 2048;
}

class DomainManager {
 public:
  // `event` and `detail` are a lifecycle event's (0 for the others).
  using EventListener = std::function<void(const DomainRef&, DomainEventId, int event, int detail)>;

  DomainManager(StateDir dir, std::string vessel_path, NetworkManager& networks);

  // Loads the definitions, takes over the VMs still running from an earlier
  // daemon, and starts the autostart domains. Problems are logged.
  void recover();
  void set_event_listener(EventListener listener);

  std::vector<DomainRef> list(unsigned flags);
  Result<DomainRef> lookup_by_name(const std::string& name);
  Result<DomainRef> lookup_by_uuid(const Uuid& uuid);
  Result<DomainRef> lookup_by_id(int id);

  Result<DomainRef> define(const std::string& xml);
  Result<void> undefine(const DomainRef& ref);
  Result<DomainRef> start(const DomainRef& ref, bool paused);
  Result<DomainRef> create_transient(const std::string& xml, bool paused);
  Result<void> shutdown(const DomainRef& ref);
  Result<void> destroy(const DomainRef& ref);
  Result<void> reboot(const DomainRef& ref);
  // A reset of the machine in place (the guest sees a reboot, no power-off).
  Result<void> reset(const DomainRef& ref);
  Result<void> suspend(const DomainRef& ref);
  Result<void> resume(const DomainRef& ref);

  // virsh save / restore / managedsave (domain_save.cc): the VM's state in
  // a file, the VM process gone; restore starts one that continues it.
  Result<void> save(const DomainRef& ref, const std::string& path);
  Result<DomainRef> restore(const std::string& path, bool paused);
  Result<void> managed_save(const DomainRef& ref);
  Result<bool> has_managed_save(const DomainRef& ref);
  Result<void> remove_managed_save(const DomainRef& ref);

  // virsh migrate (domain_migration.cc), libvirt's version 3 protocol with
  // the client driving both daemons: begin (source: the XML), prepare
  // (destination: a `vessel run --incoming tcp:` waiting, its URI), perform
  // (source: QMP migrate there), finish (destination: the VM is running
  // here, or is killed if cancelled), confirm (source: the VM ends, or runs
  // on if cancelled).
  Result<std::string> migrate_begin(const DomainRef& ref);
  // `name`, if not empty, renames the domain on this side (--dname).
  Result<std::string> migrate_prepare(const std::string& xml, const std::string& name,
                                      const std::string& uri_hint);
  Result<void> migrate_perform(const DomainRef& ref, const std::string& uri);
  // `persist`: the domain becomes persistent here (--persistent);
  // `undefine_source`: the source's definition goes (--undefinesource).
  Result<DomainRef> migrate_finish(const std::string& name, bool cancelled, bool persist);
  Result<void> migrate_confirm(const DomainRef& ref, bool cancelled, bool undefine_source);

  Result<std::pair<DomainState, int>> state(const DomainRef& ref);
  Result<DomainInfo> info(const DomainRef& ref);
  Result<std::string> xml(const DomainRef& ref, bool inactive);
  // The serial console socket of a running domain (`virsh console`).
  Result<std::string> console_socket(const DomainRef& ref);
  Result<bool> is_active(const DomainRef& ref);
  Result<bool> is_persistent(const DomainRef& ref);
  Result<bool> autostart(const DomainRef& ref);
  Result<void> set_autostart(const DomainRef& ref, bool autostart);
  // attach-device / detach-device: `live` and `config` as libvirt's
  // VIR_DOMAIN_AFFECT_LIVE / _CONFIG after resolving AFFECT_CURRENT.
  Result<void> change_device(const DomainRef& ref, const std::string& xml, unsigned flags,
                             bool detach);

  // What the snapshots (snapshot_manager.h) need of a domain, in
  // domain_snapshot_hooks.cc. A copy, taken under the lock: the caller talks
  // to `process` without holding it.
  struct SnapshotView {
    DomainRef ref;
    DomainDef def;  // the running VM's definition, else the next start's
    bool persistent = false;
    DomainState state = DomainState::kShutoff;
    std::shared_ptr<VmProcess> process;  // null when shut off
  };
  Result<SnapshotView> snapshot_view(const DomainRef& ref);
  // Points the disks named by the targets of `images` at their new image
  // (path and format) in both the next start's definition and the running
  // VM's: after an external snapshot they run on its overlays.
  Result<void> replace_disk_images(const DomainRef& ref, const std::vector<DiskDef>& images);
  // Makes `def` (a snapshot's: the same name and UUID) what the next start
  // uses, saved if the domain is persistent.
  Result<void> restore_definition(const DomainRef& ref, const DomainDef& def);
  // Starts a shut-off domain from the VM snapshot `snapshot` in its disks.
  Result<DomainRef> start_from_snapshot(const DomainRef& ref, const std::string& snapshot);
  const StateDir& state_dir() const { return dir_; }

 private:
  struct Domain {
    DomainDef config;               // what the next start uses
    std::optional<DomainDef> live;  // what the running VM was started with
    bool persistent = false;
    bool autostart = false;
    int id = -1;
    DomainState state = DomainState::kShutoff;
    int reason = reason::kUnknown;
    std::shared_ptr<VmProcess> process;
    uint64_t generation = 0;  // which start the callbacks of a process belong to
    bool destroy_requested = false;
    bool restart_requested = false;
    bool shutdown_seen = false;
    bool save_requested = false;
    bool migrated = false;                // its VM went to another daemon
    std::shared_ptr<VmProcess> incoming;  // a VM migrating here, until finish
    bool incoming_is_new = false;         // the entry exists for that VM only
  };
  using Lock = std::unique_lock<std::mutex>;

  Result<Domain*> find(const DomainRef& ref);
  Result<Domain*> find_active(const DomainRef& ref);
  DomainRef ref_of(const Domain& domain) const;
  Result<void> start_locked(Domain& domain, const DomainDef& def, const std::string& incoming = "",
                            const std::string& loadvm = "");
  Result<std::vector<std::string>> command_for(const DomainDef& def, const std::string& incoming,
                                               const std::string& loadvm = "");
  // Takes `process` (connected) as the domain's running VM.
  void adopt_started(Domain& domain, const DomainDef& def, std::shared_ptr<VmProcess> process,
                     uint64_t generation);
  QmpClient::EventHandler event_handler(const std::string& name, uint64_t generation);
  VmProcess::ExitHandler exit_handler(const std::string& name, uint64_t generation);
  // Starts `def` from the save image at `path` under the lock.
  Result<void> restore_locked(Domain& domain, const DomainDef& def, const std::string& path,
                              uint64_t state_offset);
  Result<void> check_identity(const DomainDef& def);
  Result<Domain*> add_for_start(const DomainDef& def, bool* is_new);
  // `name` is a copy: the entry may go (a transient domain) while waiting.
  void wait_until_stopped(Lock& lock, std::string name, uint64_t generation);
  Result<void> save_run_record(const Domain& domain);
  Result<void> save_definition(const DomainDef& def);
  void on_qmp_event(const std::string& name, uint64_t generation, const std::string& event);
  void on_exit(const std::string& name, uint64_t generation, const VmExitInfo& exit);
  void emit(const Domain& domain, LifecycleEvent event, int detail);
  Result<void> run_on_vm(const DomainRef& ref, const char* command);

  StateDir dir_;
  std::string vessel_path_;
  NetworkManager& networks_;
  std::mutex mutex_;
  std::condition_variable stopped_;
  std::map<std::string, Domain> domains_;
  int next_id_ = 1;
  uint64_t next_generation_ = 1;
  EventListener listener_;
};

}  // namespace vessel::daemon
