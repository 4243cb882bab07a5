// vesseld: keeps domain definitions, runs each VM as its own `vessel run`
// process and answers libvirt's clients (virsh, the Python API,
// virt-install) on libvirt's remote protocol. Stopping the daemon leaves
// the VMs running; the next daemon takes them over.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "base/log.h"
#include "base/version.h"
#include "daemon/domain_manager.h"
#include "daemon/event_hub.h"
#include "daemon/remote_server.h"
#include "daemon/socket_paths.h"
#include "daemon/state_dir.h"
#include "daemon/storage_manager.h"

namespace vessel::daemon {
namespace {

constexpr const char* kUsage =
    "usage: vesseld [--socket PATH] [--ro-socket PATH] [--state-dir DIR] [--session]\n"
    "               [--qemu-alias] [--vessel PATH]\n"
    "\n"
    "Runs in the foreground until SIGTERM or SIGINT; running VMs are left running.\n"
    "  --socket PATH     the read-write socket (default /run/libvirt/virtvesseld-sock,\n"
    "                    where `virsh -c vessel:///system` looks; with --session\n"
    "                    $XDG_RUNTIME_DIR/libvirt/virtvesseld-sock, for vessel:///session)\n"
    "  --ro-socket PATH  the read-only socket (default: the socket's path + \"-ro\";\n"
    "                    none for --session)\n"
    "  --state-dir DIR   definitions, logs and run records (default /var/lib/vessel;\n"
    "                    with --session ~/.local/share/vessel)\n"
    "  --session         an unprivileged user's daemon\n"
    "  --qemu-alias      also answer qemu:///system (or qemu:///session) on libvirt's\n"
    "                    own socket paths, for hosts with no libvirt daemon\n"
    "  --vessel PATH     the vessel executable VMs run with (default: next to vesseld)\n";

struct Options {
  std::string socket;
  std::string ro_socket;
  bool ro_socket_given = false;
  std::string state_dir;
  std::string vessel;
  bool session = false;
  bool qemu_alias = false;
};

std::string executable_dir() {
  char path[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", path, sizeof path - 1);
  if (n <= 0) return ".";
  std::string self(path, static_cast<size_t>(n));
  return self.substr(0, self.rfind('/'));
}

bool parse(int argc, char** argv, Options& options) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&](std::string& out) {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "vesseld: error: %s needs a value\n", arg.c_str());
        return false;
      }
      out = argv[++i];
      return true;
    };
    if (arg == "--socket") {
      if (!value(options.socket)) return false;
    } else if (arg == "--ro-socket") {
      if (!value(options.ro_socket)) return false;
      options.ro_socket_given = true;
    } else if (arg == "--state-dir") {
      if (!value(options.state_dir)) return false;
    } else if (arg == "--vessel") {
      if (!value(options.vessel)) return false;
    } else if (arg == "--session") {
      options.session = true;
    } else if (arg == "--qemu-alias") {
      options.qemu_alias = true;
    } else if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    } else if (arg == "--version") {
      std::printf("vesseld %s\n", kVersionString);
      std::exit(0);
    } else {
      std::fprintf(stderr, "vesseld: error: unknown option '%s' (see 'vesseld --help')\n",
                   arg.c_str());
      return false;
    }
  }
  if (options.socket.empty()) options.socket = default_socket(options.session, "virtvesseld");
  if (!options.ro_socket_given && !options.session) options.ro_socket = options.socket + "-ro";
  if (options.state_dir.empty()) {
    const char* home = std::getenv("HOME");
    options.state_dir = options.session ? std::string(home ? home : ".") + "/.local/share/vessel"
                                        : "/var/lib/vessel";
  }
  if (options.vessel.empty()) options.vessel = executable_dir() + "/vessel";
  return true;
}

// mkdir -p for the socket's directory (/run/libvirt may not exist on a
// host without libvirt).
void make_parent_dirs(const std::string& path) {
  for (size_t slash = path.find('/', 1); slash != std::string::npos;
       slash = path.find('/', slash + 1)) {
    ::mkdir(path.substr(0, slash).c_str(), 0755);
  }
}

int run(int argc, char** argv) {
  Options options;
  if (!parse(argc, argv, options)) return 1;
  if (::access(options.vessel.c_str(), X_OK) != 0) {
    std::fprintf(stderr, "vesseld: error: %s: not an executable (see --vessel)\n",
                 options.vessel.c_str());
    return 1;
  }
  // Signals go to the thread waiting for them, not to a connection's thread.
  sigset_t signals;
  sigemptyset(&signals);
  for (int signo : {SIGTERM, SIGINT, SIGHUP}) sigaddset(&signals, signo);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  auto dir = StateDir::open(options.state_dir);
  if (!dir.ok()) {
    std::fprintf(stderr, "vesseld: error: %s\n", dir.error().message().c_str());
    return 1;
  }
  StorageManager storage(*dir);
  NetworkManager networks(*dir);
  DomainManager manager(std::move(*dir), options.vessel, networks);
  EventHub events;
  manager.set_event_listener(
      [&events](const DomainRef& domain, DomainEventId id, int event, int detail) {
        events.publish_domain(domain, id, event, detail);
      });
  networks.set_event_listener([&events](const NetworkRef& network, NetworkEvent event) {
    events.publish_network(network, event);
  });
  storage.set_event_listener(
      [&events](const PoolRef& pool, PoolEvent event) { events.publish_pool(pool, event); });
  SnapshotManager snapshots(manager);
  DaemonContext daemon{manager, networks, events, storage, snapshots};

  std::vector<ServerOptions> endpoints = {{options.socket, options.ro_socket, options.qemu_alias}};
  if (options.qemu_alias) {
    std::string qemu = default_socket(options.session, "virtqemud");
    endpoints.push_back({qemu, options.session ? "" : qemu + "-ro", true});
  }
  std::vector<std::unique_ptr<RemoteServer>> servers;
  for (const ServerOptions& endpoint : endpoints) {
    make_parent_dirs(endpoint.socket_path);
    auto server = RemoteServer::listen(daemon, endpoint);
    if (!server.ok()) {
      std::fprintf(stderr, "vesseld: error: %s\n", server.error().message().c_str());
      return 1;
    }
    servers.push_back(std::move(*server));
  }
  storage.recover();   // before the domains: an autostart domain's disk may be in a pool
  networks.recover();  // and its network
  manager.recover();
  std::vector<std::thread> threads;
  for (auto& server : servers) threads.emplace_back([&server] { server->serve(); });
  std::fprintf(stderr, "vesseld: listening on %s\n", options.socket.c_str());

  int signo = 0;
  sigwait(&signals, &signo);
  for (auto& server : servers) server->stop();
  for (auto& thread : threads) thread.join();
  servers.clear();  // removes the socket files
  // Connection and watcher threads may still run: leave without running
  // static destructors under them. The VMs keep running.
  std::fflush(nullptr);
  ::_exit(0);
}

}  // namespace
}  // namespace vessel::daemon

int main(int argc, char** argv) {
  return vessel::daemon::run(argc, argv);
}
