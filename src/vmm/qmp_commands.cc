#include "vmm/qmp_commands.h"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <string_view>

#include "vmm/migration.h"
#include "vmm/state_file.h"

namespace vessel::vmm {
namespace {

constexpr std::array<std::string_view, 17> kCommands = {
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
};

// QEMU's wording for arguments a command does not take or gets wrong.
Json check_arguments(const Json& arguments, std::initializer_list<std::string_view> strings,
                     std::initializer_list<std::string_view> booleans) {
  for (const auto& [key, value] : arguments.items()) {
    bool is_string = std::find(strings.begin(), strings.end(), key) != strings.end();
    bool is_bool = std::find(booleans.begin(), booleans.end(), key) != booleans.end();
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
