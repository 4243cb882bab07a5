#include "daemon/vm_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

namespace vessel::daemon {
namespace {

int open_pidfd(pid_t pid) {
  return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
}

bool pidfd_ended(int pidfd, int timeout_ms) {
  pollfd p{pidfd, POLLIN, 0};
  return ::poll(&p, 1, timeout_ms) == 1;
}

std::vector<std::string> proc_stat_fields(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(in, line)) return {};
  // The command name (field 2) may hold spaces: fields restart after its ')'.
  size_t close = line.rfind(')');
  if (close == std::string::npos) return {};
  std::istringstream rest(line.substr(close + 1));
  std::vector<std::string> fields = {"pid", "comm"};
  for (std::string field; rest >> field;) fields.push_back(field);
  return fields;
}

std::string last_line_of(const std::string& path) {
  std::ifstream in(path);
  std::string line, last;
  while (std::getline(in, line)) {
    if (!line.empty()) last = line;
  }
  return last;
}

[[noreturn]] void exec_child(const std::vector<std::string>& argv, int log_fd) {
  ::setsid();  // the VM outlives the daemon and its terminal's signals
  int null_fd = ::open("/dev/null", O_RDONLY);
  ::dup2(null_fd, STDIN_FILENO);
  ::dup2(log_fd, STDOUT_FILENO);
  ::dup2(log_fd, STDERR_FILENO);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  std::vector<char*> args;
  for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  ::execv(args[0], args.data());
  dprintf(STDERR_FILENO, "vesseld: cannot run %s: %s\n", args[0], std::strerror(errno));
  ::_exit(127);
}

}  // namespace

uint64_t process_start_time(pid_t pid) {
  std::vector<std::string> fields = proc_stat_fields(pid);
  return fields.size() > 21 ? std::stoull(fields[21]) : 0;
}

Result<std::shared_ptr<VmProcess>> VmProcess::start(const std::vector<std::string>& argv,
                                                    const std::string& qmp_path,
                                                    const std::string& log_path,
                                                    QmpClient::EventHandler on_event,
                                                    ExitHandler on_exit) {
  TRY_ASSIGN(std::shared_ptr<VmProcess> process, spawn(argv, qmp_path, log_path));
  // Generous: a VM continuing a saved state creates its socket only once the
  // whole state is read.
  TRY(process->connect(qmp_path, log_path, std::move(on_event), std::move(on_exit),
                       std::chrono::seconds(300)));
  return process;
}

Result<std::shared_ptr<VmProcess>> VmProcess::spawn(const std::vector<std::string>& argv,
                                                    const std::string& qmp_path,
                                                    const std::string& log_path) {
  int log_fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (log_fd < 0) return Error(log_path + ": " + std::strerror(errno));
  ::unlink(qmp_path.c_str());
  pid_t pid = ::fork();
  if (pid == 0) exec_child(argv, log_fd);
  ::close(log_fd);
  if (pid < 0) return Error(std::string("fork: ") + std::strerror(errno));
  int pidfd = open_pidfd(pid);
  return std::shared_ptr<VmProcess>(new VmProcess(pid, pidfd, process_start_time(pid)));
}

Result<void> VmProcess::connect(const std::string& qmp_path, const std::string& log_path,
                                QmpClient::EventHandler on_event, ExitHandler on_exit,
                                std::chrono::seconds timeout) {
  // The VM creates its socket once it is ready; until then, retry.
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto client = QmpClient::connect(qmp_path, on_event, nullptr);
    if (client.ok()) {
      qmp_ = std::move(*client);
      break;
    }
    if (pidfd_ended(pidfd_, 20) || std::chrono::steady_clock::now() > deadline) {
      ::kill(pid_, SIGKILL);
      int status;
      ::waitpid(pid_, &status, 0);
      ended_->store(true);
      std::string last = last_line_of(log_path);
      return Error(last.empty() ? "the VM process ended at once" : last);
    }
  }
  watch(true, std::move(on_exit));
  return Ok();
}

Result<std::shared_ptr<VmProcess>> VmProcess::adopt(pid_t pid, uint64_t start_time,
                                                    const std::string& qmp_path,
                                                    QmpClient::EventHandler on_event,
                                                    ExitHandler on_exit) {
  if (pid <= 1 || start_time == 0 || process_start_time(pid) != start_time) {
    return Error("process " + std::to_string(pid) + " is gone");
  }
  int pidfd = open_pidfd(pid);
  if (pidfd < 0) return Error("process " + std::to_string(pid) + " is gone");
  std::shared_ptr<VmProcess> process(new VmProcess(pid, pidfd, start_time));
  TRY_ASSIGN(process->qmp_, QmpClient::connect(qmp_path, std::move(on_event), nullptr));
  process->watch(false, std::move(on_exit));
  return process;
}

void VmProcess::watch(bool is_child, ExitHandler on_exit) {
  // Detached: the handler may drop the last reference to this object, so
  // the thread owns only copies of what it needs.
  std::thread([pidfd = ::fcntl(pidfd_, F_DUPFD_CLOEXEC, 0), pid = pid_, is_child, ended = ended_,
               on_exit = std::move(on_exit)] {
    VmExitInfo info;
    if (is_child) {
      int status = 0;
      while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      info.known = true;
      info.exited = WIFEXITED(status);
      info.status = info.exited ? WEXITSTATUS(status) : WTERMSIG(status);
    } else {
      while (!pidfd_ended(pidfd, -1)) {
      }
    }
    ::close(pidfd);
    ended->store(true);
    on_exit(info);
  }).detach();
}

VmProcess::~VmProcess() {
  qmp_.reset();
  ::close(pidfd_);
}

uint64_t VmProcess::cpu_time_ns() const {
  std::vector<std::string> fields = proc_stat_fields(pid_);
  if (fields.size() <= 14) return 0;
  uint64_t ticks = std::stoull(fields[13]) + std::stoull(fields[14]);
  return ticks * (1000000000ull / static_cast<uint64_t>(::sysconf(_SC_CLK_TCK)));
}

bool VmProcess::exited_early() const {
  return pidfd_ended(pidfd_, 0);
}

void VmProcess::signal(int signo) const {
  if (!ended()) ::syscall(SYS_pidfd_send_signal, pidfd_, signo, nullptr, 0);
}

}  // namespace vessel::daemon
