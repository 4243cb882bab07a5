// The daemon's state directory: domain definitions, autostart marks and the
// records of running VMs. Every write is atomic (temporary file, fsync,
// rename, fsync of the directory), so a daemon killed at any instant leaves
// each file either as it was or as it was meant to become.
//
//   DIR/domains/NAME.xml     persistent definitions
//   DIR/autostart/NAME       present: start NAME when the daemon starts
//   DIR/run/NAME.json        a running VM: pid, id, control socket
//   DIR/run/NAME.qmp         its QMP socket; DIR/run/NAME.serial its console
//   DIR/log/NAME.log         messages of its VM processes, appended
//   DIR/log/NAME.console     its serial console's output, appended
//   DIR/networks/NAME.xml    persistent networks; networks/autostart/NAME
//   DIR/run/networks/NAME    an active network (its definition)
//   DIR/save/NAME.save       a managed save image (`virsh managedsave`)
//   DIR/pools/NAME.xml       storage pool definitions
//   DIR/pools/NAME.autostart present: start pool NAME when the daemon starts
//   DIR/pools/NAME.active    present: pool NAME was active when the daemon stopped
//   DIR/snapshots/NAME/      snapshot metadata (snapshot_store.h)
#pragma once

#include <string>
#include <vector>

#include "base/result.h"

namespace vessel::daemon {

Result<void> write_file_atomically(const std::string& path, const std::string& contents);
Result<std::string> read_whole_file(const std::string& path);
// Removes `path` (a missing file is fine) and makes the removal durable.
Result<void> remove_file_durably(const std::string& path);
// Creates the directory `path` (mode 0700) unless it exists.
Result<void> ensure_directory(const std::string& path);

class StateDir {
 public:
  // Creates the directory and its subdirectories (mode 0700: definitions
  // name host files, control sockets give control of VMs).
  static Result<StateDir> open(const std::string& root);

  const std::string& root() const { return root_; }
  std::string definition(const std::string& name) const;
  std::string autostart_mark(const std::string& name) const;
  std::string run_record(const std::string& name) const;
  std::string control_socket(const std::string& name) const;
  std::string serial_socket(const std::string& name) const;
  std::string log_file(const std::string& name) const;
  std::string console_log(const std::string& name) const;
  std::string network_definition(const std::string& name) const;
  std::string network_autostart_mark(const std::string& name) const;
  std::string active_network(const std::string& name) const;
  std::string managed_save(const std::string& name) const;
  std::string pool_definition(const std::string& name) const;
  std::string pool_autostart_mark(const std::string& name) const;
  std::string pool_active_mark(const std::string& name) const;
  std::string snapshot_dir(const std::string& name) const;

  // The names of the definitions and of the run records on disk.
  std::vector<std::string> defined_names() const;
  std::vector<std::string> running_names() const;
  std::vector<std::string> network_names() const;
  std::vector<std::string> active_network_names() const;
  std::vector<std::string> pool_names() const;
  std::vector<std::string> snapshot_names(const std::string& name) const;

 private:
  explicit StateDir(std::string root) : root_(std::move(root)) {}
  std::vector<std::string> names_in(const std::string& subdir, const std::string& suffix) const;

  std::string root_;
};

}  // namespace vessel::daemon
