#include "cli/run_command.h"

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <string>
#include <vector>

#include "block/image_format.h"
#include "cli/default_guest.h"
#include "cli/exit_status.h"
#include "cli/options.h"
#include "cli/serial_option.h"
#include "cli/unix_server_option.h"
#include "machine/memory_map.h"
#include "net/nic_config.h"
#include "vmm/migration.h"
#include "vmm/qmp_commands.h"
#include "vmm/qmp_server.h"
#include "vmm/state_file.h"
#include "vmm/vm.h"
#include "vmm/vm_snapshot.h"

namespace vessel::cli {
namespace {

constexpr const char* kDefaultFirmware =
    "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.bin";

void print_help() {
  std::printf(
      "Usage: vessel run [options]\n"
      "\n"
      "Boots a RISC-V virtual machine (RV64GC, QEMU-compatible 'virt' board) in the\n"
      "foreground, its serial console on this terminal. Without --kernel and\n"
      "--firmware it boots the default guest built by 'make -C guest': Image,\n"
      "initramfs.cpio.gz, disk.ext4 and cmdline from $VESSEL_GUEST_DIR, or else\n"
      "from the source tree's guest/out (now: %s).\n"
      "\n"
      "Options:\n"
      "  --kernel PATH             kernel, entered in S-mode: an ELF file, a U-Boot\n"
      "                            image, or else a raw image such as a RISC-V Linux\n"
      "                            Image or u-boot.bin (loaded at 0x80200000)\n"
      "  --initrd PATH             initial ramdisk (needs --kernel)\n"
      "  --append CMDLINE          kernel command line\n"
      "  --firmware PATH           M-mode firmware: ELF, or raw binary at 0x80000000\n"
      "                            (default: %s)\n"
      "  --memory SIZE             guest RAM with a K, M or G suffix; a bare number\n"
      "                            is MiB (default 512M; 2M to 16G)\n"
      "  --smp N                   number of harts, 1 to %u (default 1)\n"
      "  --cpu interp|jit[,cache=SIZE][,hot=N][,perfmap=on]\n"
      "                            run guest code translated to x86-64 code (jit, the\n"
      "                            default; a code cache of SIZE per hart, default\n"
      "                            32M, flushed whole when full; a block translated\n"
      "                            once it has run N times, default 16, 0: at once)\n"
      "                            or interpreted (interp, the reference engine);\n"
      "                            perfmap=on names the code in /tmp/perf-PID.map\n"
      "  --disk PATH[,format=raw|qcow2][,readonly]\n"
      "                            disk image as a virtio-blk disk (default format\n"
      "                            raw; never guessed); repeatable, the first is\n"
      "                            /dev/vda\n"
      "  --nic user[,hostfwd=tcp|udp:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT]...\n"
      "        [,net=ADDR/PREFIX][,host=ADDR][,dhcpstart=ADDR][,dns=ADDR][,restrict=on]\n"
      "        [,ipv6=off][,mac=MAC]\n"
      "                            a virtio-net NIC behind user-mode NAT (the host is\n"
      "                            10.0.2.2 to the guest; no privileges needed)\n"
      "  --nic tap,ifname=NAME[,mac=MAC]\n"
      "                            a virtio-net NIC on an existing TAP device\n"
      "  --nic bridge,br=BRIDGE[,mac=MAC]\n"
      "                            a virtio-net NIC on a new TAP in a Linux bridge\n"
      "  --nic none                no NIC (the default); repeat --nic for more NICs\n"
      "  --incoming tcp:HOST:PORT|file:PATH|exec:COMMAND\n"
      "                            continue a VM migrated or saved by QMP 'migrate'\n"
      "                            (start it with the options the VM had there)\n"
      "  --loadvm NAME             start from the VM snapshot NAME of the disks (made\n"
      "                            by savevm; start with the options the VM had)\n"
      "  --qmp unix:PATH,server[,wait=off]\n"
      "                            a QMP control socket (QEMU's machine protocol);\n"
      "                            without wait=off the VM starts once a client connects\n"
      "  --serial stdio|file:PATH  where the guest's serial output goes (default stdio)\n"
      "  --serial unix:PATH,server[,wait=off][,logfile=PATH][,logappend=on]\n"
      "                            the serial console on a Unix socket (mode 0600),\n"
      "                            raw, one client at a time (output is dropped while\n"
      "                            none is connected); without wait=off the VM starts\n"
      "                            once a client connects; logfile= also writes the\n"
      "                            output to a file, client or not (appended with\n"
      "                            logappend=on)\n"
      "  --no-reboot               end with exit status 2 when the guest reboots (or\n"
      "                            QMP system_reset asks for a reset) instead of\n"
      "                            resetting the machine and booting it again\n"
      "  -h, --help                show this help\n"
      "\n"
      "Console keys (when stdin is a terminal):\n"
      "  Ctrl-A x        quit\n"
      "  Ctrl-A h        list these keys\n"
      "  Ctrl-A Ctrl-A   send Ctrl-A to the guest\n"
      "When stdin is not a terminal its bytes go to the guest unchanged; its end\n"
      "does not stop the guest. With --serial unix: stdin is not read.\n"
      "\n"
      "%s",
      default_guest_dir().c_str(), kDefaultFirmware, machine::kMaxHarts, kExitStatusHelp);
}

struct RunOptions {
  vmm::VmConfig vm;
  UnixServerOption qmp;  // empty path: no QMP socket
  std::string incoming;  // a saved VM to continue: file:PATH or exec:COMMAND
  std::string loadvm;    // a VM snapshot in the disks to continue
  bool help = false;
  bool kernel_given = false;
  bool firmware_given = false;
  bool append_given = false;
};

Result<RunOptions> parse(std::span<const std::string_view> args) {
  RunOptions o;
  machine::BoardConfig& board = o.vm.board;
  board.firmware = kDefaultFirmware;
  const OptionSpec specs[] = {
      {"--help", false,
       [&](std::string_view) -> Result<void> {
         o.help = true;
         return Ok();
       }},
      {"-h", false,
       [&](std::string_view) -> Result<void> {
         o.help = true;
         return Ok();
       }},
      {"--kernel", true,
       [&](std::string_view v) -> Result<void> {
         board.kernel = v;
         o.kernel_given = true;
         return Ok();
       }},
      {"--initrd", true,
       [&](std::string_view v) -> Result<void> {
         board.initrd = v;
         return Ok();
       }},
      {"--append", true,
       [&](std::string_view v) -> Result<void> {
         board.append = v;
         o.append_given = true;
         return Ok();
       }},
      {"--firmware", true,
       [&](std::string_view v) -> Result<void> {
         board.firmware = v;
         o.firmware_given = true;
         return Ok();
       }},
      {"--memory", true,
       [&](std::string_view v) -> Result<void> {
         TRY_ASSIGN(board.memory_size, parse_size(v));
         return Ok();
       }},
      {"--smp", true,
       [&](std::string_view v) -> Result<void> {
         TRY_ASSIGN(uint64_t n, parse_unsigned(v));
         if (n == 0 || n > machine::kMaxHarts) {
           return Error("the number of harts must be between 1 and " +
                        std::to_string(machine::kMaxHarts) + " (got " + std::string(v) + ")");
         }
         board.harts = static_cast<unsigned>(n);
         return Ok();
       }},
      {"--cpu", true,
       [&](std::string_view v) -> Result<void> {
         // interp | jit[,cache=SIZE][,hot=N][,perfmap=on|off]
         OptionList list = split_option_list(v);
         if (list.head == "interp" && list.items.empty()) {
           board.cpu = machine::CpuEngine::kInterpreter;
           return Ok();
         }
         if (list.head != "jit") {
           return Error("'" + std::string(v) + "' is not interp or jit[,cache=SIZE][,hot=N]");
         }
         board.cpu = machine::CpuEngine::kJit;
         for (const SubOption& option : list.items) {
           if (option.key == "perfmap" && option.value) {
             TRY_ASSIGN(board.jit_perf_map, parse_on_off(option.key, *option.value));
             continue;
           }
           if (option.key == "hot" && option.value) {
             TRY_ASSIGN(const uint64_t runs, parse_unsigned(*option.value));
             if (runs > 1'000'000) {
               return Error("hot must be at most 1000000 runs (got " + std::string(*option.value) +
                            ")");
             }
             board.jit_hot_runs = static_cast<unsigned>(runs);
             continue;
           }
           if (option.key != "cache" || !option.value) {
             return Error("unknown option '" + option.text +
                          "' (expected cache=SIZE, hot=N or perfmap=on|off)");
           }
           TRY_ASSIGN(const uint64_t size, parse_size(*option.value));
           if (size < (uint64_t{1} << 20) || size > (uint64_t{1} << 30)) {
             return Error("the code cache must be between 1 MiB and 1 GiB (got " +
                          std::string(*option.value) + ")");
           }
           board.code_cache_size = size;
         }
         return Ok();
       }},
      {"--disk", true,
       [&](std::string_view v) -> Result<void> {
         // PATH[,format=raw|qcow2][,readonly]. The format is never guessed
         // from the content: a guest could write any header into its disk.
         machine::DiskConfig disk;
         OptionList list = split_option_list(v);
         disk.path = list.head;
         if (disk.path.empty()) return Error("missing disk image path");
         for (const SubOption& option : list.items) {
           if (option.text == "readonly") {
             disk.read_only = true;
           } else if (option.key == "format" && option.value) {
             TRY_ASSIGN(disk.format, block::parse_image_format(*option.value));
           } else {
             return Error("unknown option '" + option.text +
                          "' (expected format=raw|qcow2 or readonly)");
           }
         }
         board.disks.push_back(std::move(disk));
         return Ok();
       }},
      {"--qmp", true,
       [&](std::string_view v) -> Result<void> {
         TRY_ASSIGN(o.qmp, parse_unix_server(v, "server, wait=on|off"));
         return Ok();
       }},
      {"--incoming", true,
       [&](std::string_view v) -> Result<void> {
         if (!v.starts_with("file:") && !v.starts_with("exec:") && !v.starts_with("tcp:")) {
           return Error("'" + std::string(v) + "' is not tcp:HOST:PORT, file:PATH or exec:COMMAND");
         }
         o.incoming = std::string(v);
         return Ok();
       }},
      {"--loadvm", true,
       [&](std::string_view v) -> Result<void> {
         if (v.empty()) return Error("--loadvm needs a snapshot name");
         o.loadvm = std::string(v);
         return Ok();
       }},
      {"--nic", true,
       [&](std::string_view v) -> Result<void> {
         TRY_ASSIGN(net::NicConfig nic, net::parse_nic(v));
         board.nics.push_back(std::move(nic));
         return Ok();
       }},
      {"--no-reboot", false,
       [&](std::string_view) -> Result<void> {
         o.vm.reboot = vmm::RebootAction::kShutdown;
         return Ok();
       }},
      {"--serial", true,
       [&](std::string_view v) -> Result<void> {
         TRY_ASSIGN(o.vm.serial, parse_serial(v));
         return Ok();
       }},
  };
  TRY(parse_options(args, specs, "vessel run"));
  if (o.help) return o;
  if (!o.incoming.empty() && !o.loadvm.empty()) {
    return Error("--incoming and --loadvm both say where the VM comes from; give one");
  }

  if (!o.kernel_given && !o.firmware_given) {
    TRY_ASSIGN(DefaultGuest guest, find_default_guest());
    board.kernel = guest.kernel;
    if (board.initrd.empty()) board.initrd = guest.initrd;
    if (board.disks.empty() && guest.disk) board.disks.push_back({*guest.disk, false});
    if (!o.append_given) board.append = guest.cmdline;
  }
  return o;
}

// The VM state from `uri`: a live migration's stream (tcp:, waiting for the
// source to connect) or a saved file (file:, exec:).
Result<void> restore_incoming(vmm::Vm& vm, const std::string& uri) {
  if (uri.starts_with("tcp:")) {
    TRY_ASSIGN(int fd, vmm::accept_tcp(uri.substr(4), [&vm] { return vm.stop_requested(); }));
    Result<void> received = vmm::receive_vm(vm, fd);
    close(fd);
    return received;
  }
  TRY_ASSIGN(MappedBuffer state, vmm::read_state(uri));
  StateReader reader(state.bytes());
  return vm.restore(reader);
}

}  // namespace

int run_command(std::span<const std::string_view> args) {
  Result<RunOptions> options = parse(args);
  if (!options) {
    std::fprintf(stderr, "vessel: error: %s\n", options.error().message().c_str());
    return kExitHostError;
  }
  if (options->help) {
    print_help();
    return kExitOk;
  }
  Result<std::unique_ptr<vmm::Vm>> vm = vmm::Vm::create(std::move(options->vm));
  if (!vm) {
    std::fprintf(stderr, "vessel: error: %s\n", vm.error().message().c_str());
    return kExitHostError;
  }
  if (!options->incoming.empty() || !options->loadvm.empty()) {
    Result<void> restored = options->loadvm.empty() ? restore_incoming(**vm, options->incoming)
                                                    : vmm::load_vm_snapshot(**vm, options->loadvm);
    if (!restored) {
      std::fprintf(stderr, "vessel: error: %s\n", restored.error().message().c_str());
      return kExitHostError;
    }
  }
  // The control socket: its commands act on the VM, its events go to every
  // client. The server is reached through an atomic pointer because its
  // thread may already dispatch while listen() returns.
  std::atomic<vmm::QmpServer*> qmp_events{nullptr};
  std::unique_ptr<vmm::QmpCommands> qmp_commands;
  std::unique_ptr<vmm::QmpServer> qmp;
  if (!options->qmp.path.empty()) {
    qmp_commands = std::make_unique<vmm::QmpCommands>(
        **vm, [&qmp_events](const std::string& event, const vmm::Json& data) {
          if (vmm::QmpServer* server = qmp_events.load()) server->emit(event, data);
        });
    Result<std::unique_ptr<vmm::QmpServer>> server = vmm::QmpServer::listen(
        options->qmp.path,
        [c = qmp_commands.get()](const std::string& name, const vmm::Json& arguments) {
          return c->execute(name, arguments);
        });
    if (!server) {
      std::fprintf(stderr, "vessel: error: %s\n", server.error().message().c_str());
      return kExitHostError;
    }
    qmp = std::move(*server);
    qmp_events.store(qmp.get());
    (*vm)->on_reset([&qmp_events](const vmm::VmExit& cause) {
      if (vmm::QmpServer* events = qmp_events.load()) {
        events->emit("RESET", vmm::QmpCommands::reset_data(cause));
      }
    });
    if (options->qmp.wait) qmp->wait_for_client([&vm] { return (*vm)->stop_requested(); });
  }
  Result<vmm::VmExit> exit = (*vm)->run();
  if (qmp_commands) qmp_commands->finish();
  if (qmp && exit) qmp->emit("SHUTDOWN", qmp_commands->shutdown_data(*exit));
  qmp_events.store(nullptr);
  qmp.reset();
  if (!exit) {
    std::fprintf(stderr, "vessel: error: %s\n", exit.error().message().c_str());
    return kExitHostError;
  }
  switch (exit->reason) {
    case vmm::VmExit::Reason::kPowerOff:
      return kExitOk;
    case vmm::VmExit::Reason::kQuit:
      std::fprintf(stderr, "vessel: terminated from the console\n");
      return kExitOk;
    case vmm::VmExit::Reason::kReset:
    case vmm::VmExit::Reason::kHostReset:
      return kExitReboot;
    case vmm::VmExit::Reason::kHalted:
      std::fprintf(stderr, "vessel: guest halted: no hart can ever receive an interrupt again\n");
      return kExitHalted;
    case vmm::VmExit::Reason::kGuestFailure:
      std::fprintf(stderr, "vessel: guest reported failure code %d\n", exit->code);
      return exit_status_for_failure(exit->code);
    case vmm::VmExit::Reason::kSignal:
      std::fprintf(stderr, "vessel: terminating on signal %d\n", exit->code);
      return 128 + exit->code;
  }
  return kExitHostError;
}

}  // namespace vessel::cli
