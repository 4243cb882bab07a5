// One VM process (`vessel run … --qmp …`) as the daemon sees it: started by
// the daemon, or adopted from a run record after the daemon restarted. A
// watcher thread waits for the process to end and reports how it ended.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "base/result.h"
#include "daemon/qmp_client.h"

namespace vessel::daemon {

struct VmExitInfo {
  bool known = false;  // false for an adopted process: not our child, no status
  bool exited = false;
  int status = 0;  // exit status, or the signal that ended it
};

class VmProcess {
 public:
  using ExitHandler = std::function<void(const VmExitInfo&)>;

  // Starts `argv` (argv[0] an executable path) in a session of its own,
  // its output appended to `log_path`, and connects to its QMP socket at
  // `qmp_path`. On failure the process is gone and the error quotes the
  // last message it wrote.
  static Result<std::shared_ptr<VmProcess>> start(const std::vector<std::string>& argv,
                                                  const std::string& qmp_path,
                                                  const std::string& log_path,
                                                  QmpClient::EventHandler on_event,
                                                  ExitHandler on_exit);

  // The two halves of start(), for a VM whose socket opens only later (an
  // incoming migration): the process, running; then its QMP connection and
  // the watcher. A failed connect() kills and reaps the process.
  static Result<std::shared_ptr<VmProcess>> spawn(const std::vector<std::string>& argv,
                                                  const std::string& qmp_path,
                                                  const std::string& log_path);
  Result<void> connect(const std::string& qmp_path, const std::string& log_path,
                       QmpClient::EventHandler on_event, ExitHandler on_exit,
                       std::chrono::seconds timeout);

  // Takes over a process a previous daemon started: `start_time` (from
  // /proc/PID/stat) guards against a recycled pid.
  static Result<std::shared_ptr<VmProcess>> adopt(pid_t pid, uint64_t start_time,
                                                  const std::string& qmp_path,
                                                  QmpClient::EventHandler on_event,
                                                  ExitHandler on_exit);

  ~VmProcess();
  VmProcess(const VmProcess&) = delete;
  VmProcess& operator=(const VmProcess&) = delete;

  pid_t pid() const { return pid_; }
  uint64_t start_time() const { return start_time_; }
  QmpClient& qmp() { return *qmp_; }
  // CPU time the process used, in nanoseconds (user + system).
  uint64_t cpu_time_ns() const;
  void signal(int signo) const;
  bool ended() const { return ended_->load(); }
  // Before connect(), for a spawned process: whether it has already exited.
  bool exited_early() const;

 private:
  VmProcess(pid_t pid, int pidfd, uint64_t start_time)
      : pid_(pid), pidfd_(pidfd), start_time_(start_time) {}
  void watch(bool is_child, ExitHandler on_exit);

  pid_t pid_;
  int pidfd_;
  uint64_t start_time_;
  std::unique_ptr<QmpClient> qmp_;
  std::shared_ptr<std::atomic<bool>> ended_ = std::make_shared<std::atomic<bool>>(false);
};

// Field 22 of /proc/PID/stat: when the process started, in clock ticks
// since boot; 0 if there is no such process.
uint64_t process_start_time(pid_t pid);

}  // namespace vessel::daemon
