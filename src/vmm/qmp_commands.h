// The QMP commands a Vessel VM answers, on top of a Vm: run state (stop,
// cont, query-status), power (system_powerdown, system_reset, quit) and
// what the VM is made of (query-block, query-cpus-fast), saving the VM
// (migrate to file:/exec:, query-migrate), snapshots (human-monitor-command
// with savevm/loadvm/delvm/info snapshots, blockdev-snapshot-sync), plus
// query-version and query-commands. Replies and errors follow QEMU 7.2's QMP.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "vmm/human_monitor.h"
#include "vmm/migration.h"
#include "vmm/qmp_server.h"
#include "vmm/vm.h"

namespace vessel::vmm {

class QmpCommands {
 public:
  using EventSink = std::function<void(const std::string& event, const Json& data)>;

  QmpCommands(Vm& vm, EventSink emit);
  ~QmpCommands() { finish(); }
  QmpCommands(const QmpCommands&) = delete;
  QmpCommands& operator=(const QmpCommands&) = delete;

  // Cancels a migration still running and waits for its thread: call before
  // the event sink goes away.
  void finish();

  // A QmpServer::Dispatcher.
  Json execute(const std::string& name, const Json& arguments);

  // The SHUTDOWN event's data for how run() ended: {"guest", "reason"} as
  // QEMU reports them (a reset that ends run(), under RebootAction::kShutdown,
  // gives the reset's reason, as QEMU's -no-reboot does).
  Json shutdown_data(const VmExit& exit) const;
  // The RESET event's data for a reset in place caused by `cause` (kReset:
  // the guest's, kHostReset: system_reset).
  static Json reset_data(const VmExit& cause);

 private:
  Json migrate(const Json& arguments);
  void run_migration(const std::string& uri);
  bool migration_active() const;  // with mutex_ held
  void set_migration_status(const std::string& status, const std::string& error = "");
  Json query_migrate() const;
  Json set_migrate_parameters(const Json& arguments);
  Json set_migrate_capabilities(const Json& arguments);
  Json query_block() const;
  Json query_cpus_fast() const;
  Json human_monitor_command(const Json& arguments);
  Json blockdev_snapshot_sync(const Json& arguments);

  Vm& vm_;
  EventSink emit_;
  mutable std::mutex mutex_;
  bool quit_requested_ = false;  // QMP quit, not the console's Ctrl-A x
  Json migration_;               // what query-migrate reports (null: none yet)
  MigrationParams params_;
  std::unique_ptr<MigrationStats> stats_;
  std::chrono::steady_clock::time_point migration_started_;
  std::thread migration_thread_;
  HumanMonitor monitor_;
  // Node names of the disks' top images (QEMU's "#blockN" unless a
  // blockdev-snapshot-sync named its overlay), by disk.
  std::vector<std::string> node_names_;
  unsigned next_node_ = 0;
};

}  // namespace vessel::vmm
