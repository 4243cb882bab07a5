#include "vmm/qmp_commands.h"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <string_view>

#include "vmm/disk_overlay.h"
#include "vmm/image_info.h"
#include "vmm/migration.h"
#include "vmm/state_file.h"

namespace vessel::vmm {
namespace {

constexpr std::array<std::string_view, 19> kCommands = {
    "qmp_capabilities",
    "query-status",
    "stop",
    "cont",
    "system_powerdown",
    "system_reset",
    "quit",
    "query-block",
    "query-cpus-fast",
    "query-version",
    "query-commands",
    "migrate",
    "query-migrate",
    "migrate_cancel",
    "migrate-set-parameters",
    "migrate-set-capabilities",
    "query-migrate-parameters",
    "human-monitor-command",
    "blockdev-snapshot-sync",
};

// QEMU's wording for arguments a command does not take or gets wrong:
// `strings` are required, `optional_strings` and `booleans` optional.
Json check_arguments(const Json& arguments, std::initializer_list<std::string_view> strings,
                     std::initializer_list<std::string_view> booleans,
                     std::initializer_list<std::string_view> optional_strings = {}) {
  auto listed = [](std::initializer_list<std::string_view> names, const std::string& key) {
    return std::find(names.begin(), names.end(), key) != names.end();
  };
  for (const auto& [key, value] : arguments.items()) {
    bool is_string = listed(strings, key) || listed(optional_strings, key);
    bool is_bool = listed(booleans, key);
    if (!is_string && !is_bool) {
      return qmp_error("GenericError", "Parameter '" + key + "' is unexpected");
    }
    if ((is_string && !value.is_string()) || (is_bool && !value.is_boolean())) {
      return qmp_error("GenericError", "Invalid parameter type for '" + key +
                                           "', expected: " + (is_string ? "string" : "boolean"));
    }
  }
  for (std::string_view required : strings) {
    if (!arguments.contains(required)) {
      return qmp_error("GenericError", "Parameter '" + std::string(required) + "' is missing");
    }
  }
  return nullptr;
}

Json ok(Json value = Json::object()) {
  return {{"return", std::move(value)}};
}

}  // namespace

QmpCommands::QmpCommands(Vm& vm, EventSink emit)
    : vm_(vm),
      emit_(std::move(emit)),
      monitor_(vm, [this](const char* event) { emit_(event, nullptr); }) {
  for (size_t i = 0; i < vm_.board().config().disks.size(); ++i) {
    node_names_.push_back("#block" + std::to_string(next_node_++));
  }
}

Json QmpCommands::execute(const std::string& name, const Json& arguments) {
  bool known = false;
  for (std::string_view c : kCommands) known = known || c == name;
  if (!known) return qmp_error("CommandNotFound", "The command " + name + " has not been found");
  if (name == "migrate") {
    Json bad = check_arguments(arguments, {"uri"}, {"blk", "inc", "detach", "resume"});
    if (!bad.is_null()) return bad;
    return migrate(arguments);
  }
  if (name == "migrate-set-parameters") return set_migrate_parameters(arguments);
  if (name == "migrate-set-capabilities") return set_migrate_capabilities(arguments);
  if (name == "human-monitor-command") return human_monitor_command(arguments);
  if (name == "blockdev-snapshot-sync") return blockdev_snapshot_sync(arguments);
  // None of the other commands takes arguments.
  if (!arguments.empty()) {
    return qmp_error("GenericError", "Parameter '" + arguments.begin().key() + "' is unexpected");
  }

  if (name == "query-status") {
    bool paused = vm_.paused();
    std::string status = paused ? "paused" : "running";
    {
      std::lock_guard lock(mutex_);
      if (paused && migration_.is_object() && migration_["status"] == "completed") {
        status = "postmigrate";
      }
    }
    return ok({{"status", status}, {"singlestep", false}, {"running", !paused}});
  }
  if (name == "stop") {
    if (!vm_.paused()) {
      vm_.pause();
      emit_("STOP", nullptr);
    }
    return ok();
  }
  if (name == "cont") {
    {
      std::lock_guard lock(mutex_);
      if (migration_.is_object() && migration_["status"] == "completed") migration_ = nullptr;
    }
    if (vm_.paused()) {
      vm_.resume();
      emit_("RESUME", nullptr);
    }
    return ok();
  }
  if (name == "system_powerdown") {
    vm_.board().press_power_button();
    emit_("POWERDOWN", nullptr);
    return ok();
  }
  if (name == "system_reset") {
    vm_.request_stop({VmExit::Reason::kHostReset, 0});
    return ok();
  }
  if (name == "quit") {
    {
      std::lock_guard lock(mutex_);
      quit_requested_ = true;
    }
    vm_.request_stop({VmExit::Reason::kQuit, 0});
    return ok();
  }
  if (name == "query-migrate") return ok(query_migrate());
  if (name == "migrate_cancel") {
    std::lock_guard lock(mutex_);
    if (stats_ && migration_active()) stats_->cancel.store(true);
    return ok();
  }
  if (name == "query-migrate-parameters") {
    std::lock_guard lock(mutex_);
    return ok({{"downtime-limit", params_.downtime_limit_ms}});
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

// Starts saving the VM through `uri` on a thread of its own and answers at
// once, as QEMU does; MIGRATION events and query-migrate tell how it goes.
// file: and exec: save a paused VM; tcp: migrates it live (migration.h).
// Afterwards the VM stays paused ("postmigrate"), as QEMU's source does; if
// it fails, a VM that was running runs again.
Json QmpCommands::migrate(const Json& arguments) {
  if (arguments.value("blk", false) || arguments.value("inc", false)) {
    return qmp_error("GenericError", "Block migration is not supported: the disks must be shared");
  }
  if (arguments.value("resume", false)) {
    return qmp_error("GenericError", "There is no paused migration to resume");
  }
  std::string uri = arguments["uri"].get<std::string>();
  if (!uri.starts_with("file:") && !uri.starts_with("exec:") && !uri.starts_with("tcp:")) {
    return qmp_error("GenericError",
                     "Invalid migration protocol (tcp:HOST:PORT, file:PATH or exec:COMMAND)");
  }
  {
    std::lock_guard lock(mutex_);
    if (migration_active()) {
      return qmp_error("GenericError", "There's a migration process in progress");
    }
  }
  if (migration_thread_.joinable()) migration_thread_.join();
  {
    std::lock_guard lock(mutex_);
    stats_ = std::make_unique<MigrationStats>();
  }
  migration_started_ = std::chrono::steady_clock::now();
  set_migration_status("setup");
  migration_thread_ = std::thread([this, uri] { run_migration(uri); });
  return ok();
}

bool QmpCommands::migration_active() const {
  return migration_.is_object() &&
         (migration_["status"] == "setup" || migration_["status"] == "active");
}

void QmpCommands::set_migration_status(const std::string& status, const std::string& error) {
  Json m = {{"status", status}};
  if (status == "completed" || status == "failed" || status == "cancelled") {
    m["total-time"] = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::steady_clock::now() - migration_started_)
                          .count();
  }
  if (!error.empty()) m["error-desc"] = error;
  {
    std::lock_guard lock(mutex_);
    migration_ = m;
  }
  emit_("MIGRATION", {{"status", status}});
}

void QmpCommands::run_migration(const std::string& uri) {
  const bool was_running = !vm_.paused();
  MigrationParams params;
  {
    std::lock_guard lock(mutex_);
    params = params_;
  }
  set_migration_status("active");
  Result<void> done;
  if (uri.starts_with("tcp:")) {
    Result<int> fd = connect_tcp(uri.substr(4));
    done = fd ? send_vm(vm_, *fd, params, *stats_) : Result<void>(fd.error());
    if (fd) close(*fd);
  } else {
    vm_.pause();
    StateWriter state;
    done = vm_.save(state);
    if (done) done = write_state(uri, state.data());
    if (!done && was_running) vm_.resume();
  }
  if (!done) {
    set_migration_status(stats_->cancel.load() ? "cancelled" : "failed", done.error().message());
    return;
  }
  if (was_running) emit_("STOP", nullptr);
  set_migration_status("completed");
}

void QmpCommands::finish() {
  if (!migration_thread_.joinable()) return;
  stats_->cancel.store(true);
  migration_thread_.join();
}

Json QmpCommands::query_migrate() const {
  std::lock_guard lock(mutex_);
  if (migration_.is_null()) return Json::object();
  Json m = migration_;
  if (stats_ && m["status"] != "setup") {
    uint64_t normal = stats_->normal_pages.load();
    m["ram"] = {{"transferred", stats_->transferred.load()},
                {"remaining", stats_->remaining.load()},
                {"total", vm_.board().bus().ram_size()},
                {"duplicate", stats_->zero_pages.load()},
                {"normal", normal},
                {"normal-bytes", normal * memory::kPageSize},
                {"dirty-sync-count", stats_->passes.load()}};
    if (m["status"] == "completed") m["downtime"] = stats_->downtime_ms.load();
  }
  return m;
}

Json QmpCommands::set_migrate_parameters(const Json& arguments) {
  for (const auto& [key, value] : arguments.items()) {
    if (key != "downtime-limit") {
      return qmp_error("GenericError", "Parameter '" + key + "' is unexpected");
    }
    if (!value.is_number_unsigned() || value.get<uint64_t>() > 2'000'000) {
      return qmp_error("GenericError",
                       "Parameter 'downtime_limit' expects an integer in the range of 0 to "
                       "2000000 milliseconds");
    }
  }
  std::lock_guard lock(mutex_);
  if (arguments.contains("downtime-limit")) {
    params_.downtime_limit_ms = arguments["downtime-limit"].get<uint64_t>();
  }
  return ok();
}

// Only "events" (always on here: MIGRATION events are sent regardless).
Json QmpCommands::set_migrate_capabilities(const Json& arguments) {
  for (const auto& [key, value] : arguments.items()) {
    if (key != "capabilities") {
      return qmp_error("GenericError", "Parameter '" + key + "' is unexpected");
    }
    if (!value.is_array()) {
      return qmp_error("GenericError",
                       "Invalid parameter type for 'capabilities', expected: array");
    }
    for (const Json& cap : value) {
      if (!cap.is_object() || !cap.contains("capability") || !cap["capability"].is_string() ||
          !cap.contains("state") || !cap["state"].is_boolean()) {
        return qmp_error("GenericError", "Each capability needs 'capability' and 'state'");
      }
      std::string name = cap["capability"].get<std::string>();
      if (name != "events" && cap["state"].get<bool>()) {
        return qmp_error("GenericError", "Capability '" + name + "' is not supported");
      }
    }
  }
  return ok();
}

Json QmpCommands::query_block() const {
  Json list = Json::array();
  const auto& disks = vm_.board().config().disks;
  for (size_t i = 0; i < disks.size(); ++i) {
    const machine::DiskConfig& disk = disks[i];
    const block::BlockBackend& image = vm_.board().disk_image(i);
    Json inserted = {{"file", disk.path},         {"node-name", node_names_[i]},
                     {"ro", disk.read_only},      {"drv", block::image_format_name(disk.format)},
                     {"encrypted", false},        {"backing_file_depth", backing_depth(image)},
                     {"image", image_info(image)}};
    if (inserted["image"].contains("backing-filename")) {
      inserted["backing_file"] = inserted["image"]["backing-filename"];
    }
    list.push_back({{"device", "virtio" + std::to_string(i)},
                    {"qdev", "/machine/peripheral-anon/device[" + std::to_string(i) + "]"},
                    {"type", "unknown"},
                    {"removable", false},
                    {"locked", false},
                    {"io-status", "ok"},
                    {"inserted", inserted}});
  }
  return list;
}

// QEMU's HMP through QMP: the command's output is the reply, errors
// included ("Error: …" lines); only bad arguments are QMP errors.
Json QmpCommands::human_monitor_command(const Json& arguments) {
  for (const auto& [key, value] : arguments.items()) {
    if (key == "cpu-index") {
      // Which vCPU `info registers` and the like show; none here needs one.
      if (!value.is_number_integer() || value.get<int64_t>() < 0 ||
          value.get<int64_t>() >= static_cast<int64_t>(vm_.board().hart_count())) {
        return qmp_error("GenericError", "Parameter 'cpu-index' expects a CPU number");
      }
    } else if (key != "command-line") {
      return qmp_error("GenericError", "Parameter '" + key + "' is unexpected");
    }
  }
  Json bad = check_arguments(arguments.contains("command-line")
                                 ? Json{{"command-line", arguments["command-line"]}}
                                 : Json::object(),
                             {"command-line"}, {});
  if (!bad.is_null()) return bad;
  {
    std::lock_guard lock(mutex_);
    if (migration_active()) {
      return qmp_error("GenericError", "There's a migration process in progress");
    }
  }
  return ok(monitor_.execute(arguments["command-line"].get<std::string>()));
}

// An external snapshot (disk_overlay.h) of the disk named by `device` or by
// its top image's `node-name`.
Json QmpCommands::blockdev_snapshot_sync(const Json& arguments) {
  Json bad = check_arguments(arguments, {"snapshot-file"}, {},
                             {"device", "node-name", "snapshot-node-name", "format", "mode"});
  if (!bad.is_null()) return bad;
  std::string device = arguments.value("device", "");
  std::string node = arguments.value("node-name", "");
  const auto& disks = vm_.board().config().disks;
  size_t index = disks.size();
  for (size_t i = 0; i < disks.size(); ++i) {
    bool named = !device.empty() && device == "virtio" + std::to_string(i);
    bool by_node = device.empty() && !node.empty() && node == node_names_[i];
    if (named || by_node) index = i;
  }
  if (index == disks.size()) {
    return qmp_error(device.empty() && node.empty() ? "GenericError" : "DeviceNotFound",
                     "Cannot find device=" + device + " nor node_name=" + node);
  }
  std::string format = arguments.value("format", "qcow2");
  if (format != "qcow2") {
    return qmp_error("GenericError", "Format '" + format +
                                         "' cannot have a backing file; the overlay must be qcow2");
  }
  std::string mode = arguments.value("mode", "absolute-paths");
  if (mode != "absolute-paths" && mode != "existing") {
    return qmp_error("GenericError", "Parameter 'mode' does not accept value '" + mode + "'");
  }
  std::string snapshot_node = arguments.value("snapshot-node-name", "");
  if (!snapshot_node.empty() &&
      std::find(node_names_.begin(), node_names_.end(), snapshot_node) != node_names_.end()) {
    return qmp_error("GenericError", "New snapshot node name already in use");
  }
  {
    std::lock_guard lock(mutex_);
    if (migration_active()) {
      return qmp_error("GenericError", "There's a migration process in progress");
    }
  }
  const std::string file = arguments["snapshot-file"].get<std::string>();
  Result<void> done = snapshot_to_overlay(
      vm_.board(), index, file,
      mode == "existing" ? OverlayMode::kExisting : OverlayMode::kAbsolutePaths);
  if (!done) return qmp_error("GenericError", done.error().message());
  node_names_[index] =
      snapshot_node.empty() ? "#block" + std::to_string(next_node_++) : snapshot_node;
  return ok();
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
  {
    std::lock_guard lock(mutex_);
    if (quit_requested_) return {{"guest", false}, {"reason", "host-qmp-quit"}};
  }
  switch (exit.reason) {
    case VmExit::Reason::kPowerOff:
      return {{"guest", true}, {"reason", "guest-shutdown"}};
    case VmExit::Reason::kReset:
    case VmExit::Reason::kHostReset:
      return reset_data(exit);
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

Json QmpCommands::reset_data(const VmExit& cause) {
  if (cause.reason == VmExit::Reason::kHostReset) {
    return {{"guest", false}, {"reason", "host-qmp-system-reset"}};
  }
  return {{"guest", true}, {"reason", "guest-reset"}};
}

}  // namespace vessel::vmm
