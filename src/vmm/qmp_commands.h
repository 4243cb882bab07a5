// The QMP commands a Vessel VM answers, on top of a Vm: run state (stop,
// cont, query-status), power (system_powerdown, system_reset, quit) and
// what the VM is made of (query-block, query-cpus-fast), saving the VM
// (migrate to file:/exec:, query-migrate), plus query-version and
// query-commands. Replies and errors follow QEMU 7.2's QMP.
#pragma once

#include <functional>
#include <mutex>
#include <string>

#include "vmm/qmp_server.h"
#include "vmm/vm.h"

namespace vessel::vmm {

class QmpCommands {
 public:
  using EventSink = std::function<void(const std::string& event, const Json& data)>;

  QmpCommands(Vm& vm, EventSink emit) : vm_(vm), emit_(std::move(emit)) {}

  // A QmpServer::Dispatcher.
  Json execute(const std::string& name, const Json& arguments);

  // The SHUTDOWN event's data for how run() ended: {"guest", "reason"} as
  // QEMU reports them (a reset ends the process, as QEMU's -no-reboot).
  Json shutdown_data(const VmExit& exit) const;

 private:
  Json migrate(const Json& arguments);
  Json query_block() const;
  Json query_cpus_fast() const;

  Vm& vm_;
  EventSink emit_;
  mutable std::mutex mutex_;
  std::string host_request_;  // "host-qmp-quit" / "host-qmp-system-reset" once asked
  Json migration_;            // what query-migrate reports (null: none yet)
};

}  // namespace vessel::vmm
