#include "vmm/qmp_commands.h"

#include <unistd.h>

#include <array>
#include <string_view>

namespace vessel::vmm {
namespace {

constexpr std::array<std::string_view, 11> kCommands = {
    "qmp_capabilities", "query-status",  "stop",           "cont",
    "system_powerdown", "system_reset",  "quit",           "query-block",
    "query-cpus-fast",  "query-version", "query-commands",
};

Json ok(Json value = Json::object()) {
  return {{"return", std::move(value)}};
}

}  // namespace

Json QmpCommands::execute(const std::string& name, const Json& arguments) {
  bool known = false;
  for (std::string_view c : kCommands) known = known || c == name;
  if (!known) return qmp_error("CommandNotFound", "The command " + name + " has not been found");
  // None of these commands takes arguments.
  if (!arguments.empty()) {
    return qmp_error("GenericError", "Parameter '" + arguments.begin().key() + "' is unexpected");
  }

  if (name == "query-status") {
    bool paused = vm_.paused();
    return ok(
        {{"status", paused ? "paused" : "running"}, {"singlestep", false}, {"running", !paused}});
  }
  if (name == "stop") {
    if (!vm_.paused()) {
      vm_.pause();
      emit_("STOP", nullptr);
    }
    return ok();
  }
  if (name == "cont") {
    if (vm_.paused()) {
      vm_.resume();
      emit_("RESUME", nullptr);
    }
    return ok();
  }
  if (name == "system_powerdown") {
    return qmp_error("GenericError", "POWERDOWN-PENDING");
  }
  if (name == "system_reset" || name == "quit") {
    {
      std::lock_guard lock(mutex_);
      if (host_request_.empty()) {
        host_request_ = name == "quit" ? "host-qmp-quit" : "host-qmp-system-reset";
      }
    }
    vm_.request_stop({name == "quit" ? VmExit::Reason::kQuit : VmExit::Reason::kReset, 0});
    return ok();
  }
  if (name == "query-block") return ok(query_block());
  if (name == "query-cpus-fast") return ok(query_cpus_fast());
  if (name == "query-version") {
    return ok({{"qemu", {{"micro", 0}, {"minor", 2}, {"major", 7}}}, {"package", "vessel"}});
  }
  Json list = Json::array();
  for (std::string_view c : kCommands) list.push_back({{"name", c}});
  return ok(list);
}

Json QmpCommands::query_block() const {
  Json list = Json::array();
  const auto& disks = vm_.board().config().disks;
  for (size_t i = 0; i < disks.size(); ++i) {
    const machine::DiskConfig& disk = disks[i];
    std::string format = block::image_format_name(disk.format);
    Json image = {
        {"filename", disk.path}, {"format", format}, {"virtual-size", vm_.board().disk_size(i)}};
    list.push_back({{"device", "virtio" + std::to_string(i)},
                    {"qdev", "/machine/peripheral-anon/device[" + std::to_string(i) + "]"},
                    {"type", "unknown"},
                    {"removable", false},
                    {"locked", false},
                    {"io-status", "ok"},
                    {"inserted",
                     {{"file", disk.path},
                      {"ro", disk.read_only},
                      {"drv", format},
                      {"encrypted", false},
                      {"backing_file_depth", 0},
                      {"image", image}}}});
  }
  return list;
}

Json QmpCommands::query_cpus_fast() const {
  Json list = Json::array();
  std::vector<int> tids = vm_.vcpu_thread_ids();
  for (size_t i = 0; i < tids.size(); ++i) {
    list.push_back({{"cpu-index", i},
                    {"qom-path", "/machine/soc0/harts[" + std::to_string(i) + "]"},
                    {"thread-id", tids[i] != 0 ? tids[i] : getpid()},
                    {"props", {{"core-id", i}, {"thread-id", 0}, {"socket-id", 0}}},
                    {"target", "riscv64"}});
  }
  return list;
}

Json QmpCommands::shutdown_data(const VmExit& exit) const {
  std::string host_request;
  {
    std::lock_guard lock(mutex_);
    host_request = host_request_;
  }
  if (!host_request.empty()) return {{"guest", false}, {"reason", host_request}};
  switch (exit.reason) {
    case VmExit::Reason::kPowerOff:
      return {{"guest", true}, {"reason", "guest-shutdown"}};
    case VmExit::Reason::kReset:
      return {{"guest", true}, {"reason", "guest-reset"}};
    case VmExit::Reason::kGuestFailure:
    case VmExit::Reason::kHalted:
      return {{"guest", true}, {"reason", "guest-panic"}};
    case VmExit::Reason::kQuit:
      return {{"guest", false}, {"reason", "host-ui"}};
    case VmExit::Reason::kSignal:
      return {{"guest", false}, {"reason", "host-signal"}};
  }
  return {{"guest", false}, {"reason", "host-error"}};
}

}  // namespace vessel::vmm
