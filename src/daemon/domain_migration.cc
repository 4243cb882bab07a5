// virsh migrate: libvirt's version 3 migration, the client (virsh) talking
// to both daemons in turn. The VMs move as `vessel run` migrates them live
// (QMP migrate to tcp:, pre-copy then stop-and-copy); disks stay where they
// are (shared storage, the same paths on both ends).
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>

#include "daemon/domain_manager.h"
#include "daemon/domain_xml.h"
#include "daemon/virt_error.h"

namespace vessel::daemon {
namespace {

using virt_error::make;

// A TCP port on 127.0.0.1 that nothing listens on now, for the incoming VM.
Result<int> free_local_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  bool bound = ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
               ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0;
  ::close(fd);
  if (!bound) return make(virt_error::kSystemError, "no free TCP port for the migration");
  return ntohs(address.sin_port);
}

// "tcp:HOST:PORT", from the client's --migrateuri (tcp:HOST[:PORT] or
// tcp://HOST[:PORT]), or 127.0.0.1 and a free port.
Result<std::string> incoming_uri(const std::string& hint) {
  if (hint.empty()) {
    TRY_ASSIGN(int port, free_local_port());
    return "tcp:127.0.0.1:" + std::to_string(port);
  }
  std::string rest = hint;
  for (const char* prefix : {"tcp://", "tcp:"}) {
    if (rest.rfind(prefix, 0) == 0) {
      rest = rest.substr(std::string(prefix).size());
      break;
    }
  }
  if (rest == hint || rest.empty()) {
    return make(virt_error::kInvalidArg, "migration URI '" + hint + "': only tcp:HOST[:PORT]");
  }
  if (rest.find(':') == std::string::npos) {
    TRY_ASSIGN(int port, free_local_port());
    rest += ":" + std::to_string(port);
  }
  return "tcp:" + rest;
}

// Whether some socket listens on TCP `port` (/proc/net/tcp, state 0A). The
// incoming VM must listen before the source connects, and probing it with a
// connection would take the one connection it accepts.
bool listening_on(int port) {
  std::ifstream table("/proc/net/tcp");
  std::string line;
  std::getline(table, line);  // the header
  char wanted[8];
  std::snprintf(wanted, sizeof wanted, ":%04X", port);
  while (std::getline(table, line)) {
    std::istringstream fields(line);
    std::string slot, local, remote, state;
    fields >> slot >> local >> remote >> state;
    if (state == "0A" && local.size() > 5 && local.compare(local.size() - 5, 5, wanted) == 0) {
      return true;
    }
  }
  return false;
}

}  // namespace

Result<std::string> DomainManager::migrate_begin(const DomainRef& ref) {
  Lock lock(mutex_);
  TRY_ASSIGN(Domain * domain, find_active(ref));
  return format_domain_xml(*domain->live, -1);
}

Result<std::string> DomainManager::migrate_prepare(const std::string& xml, const std::string& name,
                                                   const std::string& uri_hint) {
  TRY_ASSIGN(DomainDef def, parse_domain_xml(xml));
  if (!name.empty()) def.name = name;
  TRY_ASSIGN(std::string uri, incoming_uri(uri_hint));
  Lock lock(mutex_);
  bool is_new = false;
  TRY_ASSIGN(Domain * domain, add_for_start(def, &is_new));
  if (domain->incoming) {
    return make(virt_error::kOperationInvalid,
                "domain '" + def.name + "' is already migrating here");
  }
  auto failed = [&](const Error& error) -> Error {
    if (is_new) domains_.erase(def.name);
    return error;
  };
  auto argv = command_for(def, uri);
  if (!argv.ok()) return failed(argv.error());
  auto process = VmProcess::spawn(*argv, dir_.control_socket(def.name), dir_.log_file(def.name));
  if (!process.ok()) return failed(make(virt_error::kOperationFailed, process.error().message()));
  int port = std::stoi(uri.substr(uri.rfind(':') + 1));
  for (int waited_ms = 0; !listening_on(port); waited_ms += 10) {
    if ((*process)->exited_early() || waited_ms > 30'000) {
      ::kill((*process)->pid(), SIGKILL);
      int status;
      ::waitpid((*process)->pid(), &status, 0);
      return failed(make(virt_error::kOperationFailed, "the incoming VM did not listen on " + uri));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  domain->incoming = std::move(*process);
  domain->incoming_is_new = is_new;
  domain->live = def;  // what finish() runs it as
  return uri;
}

Result<void> DomainManager::migrate_perform(const DomainRef& ref, const std::string& uri) {
  std::shared_ptr<VmProcess> process;
  {
    Lock lock(mutex_);
    TRY_ASSIGN(Domain * domain, find_active(ref));
    process = domain->process;
  }
  auto migrated = [&]() -> Result<void> {
    TRY(process->qmp().execute("migrate", {{"uri", uri}}));
    return wait_for_migration(process->qmp());
  }();
  if (!migrated.ok()) return make(virt_error::kOperationFailed, migrated.error().message());
  return Ok();
}

Result<DomainRef> DomainManager::migrate_finish(const std::string& name, bool cancelled,
                                                bool persist) {
  Lock lock(mutex_);
  auto it = domains_.find(name);
  if (it == domains_.end() || !it->second.incoming) {
    return make(virt_error::kNoDomain, "no domain '" + name + "' migrating here");
  }
  Domain& domain = it->second;
  std::shared_ptr<VmProcess> process = std::move(domain.incoming);
  DomainDef def = *domain.live;
  auto drop = [&](const Error& error) -> Error {
    ::kill(process->pid(), SIGKILL);
    int status;
    ::waitpid(process->pid(), &status, 0);
    domain.live.reset();
    if (domain.incoming_is_new) domains_.erase(it);
    return error;
  };
  if (cancelled) return drop(make(virt_error::kOperationFailed, "the migration was cancelled"));
  // The VM opens its control socket once the whole state has arrived.
  uint64_t generation = next_generation_++;
  auto connected = process->connect(dir_.control_socket(name), dir_.log_file(name),
                                    event_handler(name, generation), exit_handler(name, generation),
                                    std::chrono::seconds(60));
  if (!connected.ok()) {
    domain.live.reset();
    if (domain.incoming_is_new) domains_.erase(it);
    return make(virt_error::kOperationFailed,
                "the incoming VM failed: " + connected.error().message());
  }
  adopt_started(domain, def, std::move(process), generation);
  domain.reason = reason::kRunningMigrated;
  if (persist) {
    if (auto saved = save_definition(def); !saved.ok()) {
      return make(virt_error::kOperationFailed, saved.error().message());
    }
    domain.config = def;
    domain.persistent = true;
    (void)save_run_record(domain);
  }
  return ref_of(domain);
}

Result<void> DomainManager::migrate_confirm(const DomainRef& ref, bool cancelled,
                                            bool undefine_source) {
  if (cancelled) {
    // The source VM stayed here: it runs on.
    std::shared_ptr<VmProcess> process;
    {
      Lock lock(mutex_);
      TRY_ASSIGN(Domain * domain, find_active(ref));
      process = domain->process;
    }
    (void)process->qmp().execute("cont");
    return Ok();
  }
  if (undefine_source) TRY(undefine(ref));  // it runs on as a transient domain until it ends
  Lock lock(mutex_);
  TRY_ASSIGN(Domain * domain, find_active(ref));
  domain->migrated = true;
  domain->process->signal(SIGTERM);
  wait_until_stopped(lock, domain->config.name, domain->generation);
  return Ok();
}

}  // namespace vessel::daemon
