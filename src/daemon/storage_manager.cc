#include "daemon/storage_manager.h"

#include <dirent.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "base/log.h"
#include "daemon/storage_volume.h"
#include "daemon/storage_xml.h"
#include "daemon/virt_error.h"

namespace vessel::daemon {
namespace {

using virt_error::make;

// libvirt's default mode for the directory pool-build makes.
constexpr uint32_t kDefaultPoolMode = 0755;

bool is_directory(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

bool is_regular_file(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

bool exists(const std::string& path) {
  return ::access(path.c_str(), F_OK) == 0;
}

// A volume name names a file in the pool's directory and nothing else.
bool valid_volume_name(const std::string& name) {
  return !name.empty() && name[0] != '.' && name.find('/') == std::string::npos;
}

Error no_pool(const std::string& how, const std::string& what) {
  return make(virt_error::kNoStoragePool,
              "no storage pool with matching " + how + " '" + what + "'");
}
Error no_volume(const std::string& how, const std::string& what) {
  return make(virt_error::kNoStorageVolume,
              "no storage vol with matching " + how + " '" + what + "'");
}
Error not_active(const std::string& name) {
  return make(virt_error::kOperationInvalid, "storage pool '" + name + "' is not active");
}
Error still_active(const std::string& name) {
  return make(virt_error::kOperationInvalid, "storage pool '" + name + "' is already active");
}

// mkdir -p: the directories missing on the way to `path` get `mode`.
Result<void> make_directories(const std::string& path, uint32_t mode) {
  for (size_t slash = path.find('/', 1);; slash = path.find('/', slash + 1)) {
    std::string prefix = path.substr(0, slash);
    if (::mkdir(prefix.c_str(), mode) != 0 && errno != EEXIST) {
      return make(virt_error::kSystemError,
                  "cannot create directory '" + prefix + "': " + std::strerror(errno));
    }
    if (slash == std::string::npos) break;
  }
  if (!is_directory(path)) {
    return make(virt_error::kOperationInvalid, "'" + path + "' is not a directory");
  }
  return Ok();
}

PoolSpace space_of(const std::string& path) {
  struct statvfs fs;
  if (::statvfs(path.c_str(), &fs) != 0) return {};
  return {fs.f_blocks * fs.f_frsize, (fs.f_blocks - fs.f_bfree) * fs.f_frsize,
          fs.f_bavail * fs.f_frsize};
}

void log_failure(const Result<void>& result) {
  if (!result.ok()) LOG_WARN("%s", result.error().message().c_str());
}

}  // namespace

StorageManager::StorageManager(StateDir dir, std::string pool_root)
    : dir_(std::move(dir)), pool_root_(std::move(pool_root)) {
  while (pool_root_.size() > 1 && pool_root_.back() == '/') pool_root_.pop_back();
}

void StorageManager::recover() {
  Lock lock(mutex_);
  for (const std::string& name : dir_.pool_names()) {
    auto xml = read_whole_file(dir_.pool_definition(name));
    auto def = xml.ok() ? parse_pool_xml(*xml) : Result<PoolDef>(xml.error());
    if (!def.ok()) {
      LOG_WARN("pool %s: %s", name.c_str(), def.error().message().c_str());
      continue;
    }
    Pool& pool = pools_[name];
    pool.def = std::move(*def);
    pool.persistent = true;
    pool.autostart = exists(dir_.pool_autostart_mark(name));
    if (pool.autostart || exists(dir_.pool_active_mark(name))) log_failure(start_locked(pool));
  }
}

PoolRef StorageManager::ref_of(const Pool& pool) {
  return {pool.def.name, pool.def.uuid};
}

VolumeRef StorageManager::volume_ref(const Pool& pool, const std::string& name) {
  return {pool.def.name, name, pool.def.target_path + "/" + name};
}

StorageManager::Pool* StorageManager::find_by_name(const std::string& name) {
  auto it = pools_.find(name);
  return it == pools_.end() ? nullptr : &it->second;
}

void StorageManager::set_event_listener(EventListener listener) {
  Lock lock(mutex_);
  listener_ = std::move(listener);
}

void StorageManager::emit(const Pool& pool, PoolEvent event) {
  if (listener_) listener_(ref_of(pool), event);
}

Result<StorageManager::Pool*> StorageManager::find(const PoolRef& ref) {
  Pool* pool = find_by_name(ref.name);
  if (pool == nullptr) return no_pool("name", ref.name);
  return pool;
}

Result<StorageManager::Pool*> StorageManager::find_active(const PoolRef& ref) {
  TRY_ASSIGN(Pool * pool, find(ref));
  if (!pool->active) return not_active(ref.name);
  return pool;
}

std::vector<PoolRef> StorageManager::list_pools(unsigned flags) {
  using namespace pool_list_flags;
  Lock lock(mutex_);
  auto wanted = [flags](unsigned yes, unsigned no, bool value) {
    if ((flags & (yes | no)) == 0) return true;
    return value ? (flags & yes) != 0 : (flags & no) != 0;
  };
  // Every pool is a directory pool: asking for other types alone finds none.
  constexpr unsigned kAnyType = ~((1u << 6) - 1);
  bool type_ok = (flags & kAnyType) == 0 || (flags & kDir) != 0;
  std::vector<PoolRef> refs;
  for (const auto& [name, pool] : pools_) {
    if (type_ok && wanted(kActive, kInactive, pool.active) &&
        wanted(kPersistent, kTransient, pool.persistent) &&
        wanted(kAutostart, kNoAutostart, pool.autostart)) {
      refs.push_back(ref_of(pool));
    }
  }
  return refs;
}

Result<PoolRef> StorageManager::lookup_pool_by_name(const std::string& name) {
  Lock lock(mutex_);
  TRY_ASSIGN(Pool * pool, find({name, {}}));
  return ref_of(*pool);
}

Result<PoolRef> StorageManager::lookup_pool_by_uuid(const Uuid& uuid) {
  Lock lock(mutex_);
  for (const auto& [name, pool] : pools_) {
    if (pool.def.uuid == uuid) return ref_of(pool);
  }
  return no_pool("uuid", format_uuid(uuid));
}

Result<PoolRef> StorageManager::lookup_pool_by_target_path(const std::string& path) {
  Lock lock(mutex_);
  std::string clean = path;
  while (clean.size() > 1 && clean.back() == '/') clean.pop_back();
  for (const auto& [name, pool] : pools_) {
    if (pool.def.target_path == clean) return ref_of(pool);
  }
  return no_pool("target path", path);
}

Result<PoolRef> StorageManager::lookup_pool_by_volume(const VolumeRef& volume) {
  Lock lock(mutex_);
  TRY_ASSIGN(Pool * pool, find({volume.pool, {}}));
  return ref_of(*pool);
}

// libvirt's rules: a name keeps its UUID, a UUID its name, and no two pools
// share a directory.
Result<void> StorageManager::check_conflicts(const PoolDef& def) {
  const std::string& path = def.target_path;
  if (pool_root_ != "/" && path != pool_root_ && path.rfind(pool_root_ + "/", 0) != 0) {
    return make(virt_error::kOperationDenied, "pool directories must lie under " + pool_root_);
  }
  for (const auto& [name, pool] : pools_) {
    if (name == def.name) {
      if (pool.def.uuid != def.uuid) {
        return make(
            virt_error::kOperationFailed,
            "pool '" + name + "' is already defined with uuid " + format_uuid(pool.def.uuid));
      }
      if (pool.active && pool.def.target_path != def.target_path) {
        return make(virt_error::kOperationInvalid,
                    "storage pool '" + name + "' is active: its target cannot change");
      }
    } else if (pool.def.uuid == def.uuid) {
      return make(virt_error::kOperationFailed,
                  "pool '" + name + "' already exists with uuid " + format_uuid(def.uuid));
    } else if (pool.def.target_path == def.target_path) {
      return make(virt_error::kOperationFailed,
                  "Storage source conflict with pool: '" + name + "'");
    }
  }
  return Ok();
}

Result<PoolRef> StorageManager::add_pool(const std::string& xml, bool persistent) {
  TRY_ASSIGN(PoolDef def, parse_pool_xml(xml));
  Lock lock(mutex_);
  TRY(check_conflicts(def));
  Pool* existing = find_by_name(def.name);
  if (!persistent) {
    if (existing != nullptr) {
      return make(virt_error::kOperationFailed, "pool '" + def.name + "' already exists");
    }
    Pool pool{def, false, false, false};
    TRY(start_locked(pool));
    pools_[def.name] = std::move(pool);
    return ref_of(pools_[def.name]);
  }
  TRY(write_file_atomically(dir_.pool_definition(def.name), format_pool_xml(def, {})));
  Pool& pool = pools_[def.name];
  pool.def = std::move(def);
  pool.persistent = true;
  emit(pool, PoolEvent::kDefined);
  return ref_of(pool);
}

Result<PoolRef> StorageManager::define_pool(const std::string& xml) {
  return add_pool(xml, true);
}

Result<PoolRef> StorageManager::create_pool(const std::string& xml) {
  return add_pool(xml, false);
}

Result<void> StorageManager::undefine_pool(const PoolRef& ref) {
  Lock lock(mutex_);
  TRY_ASSIGN(Pool * pool, find(ref));
  if (pool->active) {
    return make(virt_error::kOperationInvalid, "storage pool '" + ref.name + "' is still active");
  }
  // The active mark too: one left by a pool that failed to start again.
  TRY(remove_file_durably(dir_.pool_active_mark(ref.name)));
  TRY(remove_file_durably(dir_.pool_autostart_mark(ref.name)));
  TRY(remove_file_durably(dir_.pool_definition(ref.name)));
  emit(*pool, PoolEvent::kUndefined);
  pools_.erase(ref.name);
  return Ok();
}

Result<void> StorageManager::build_pool(const PoolRef& ref) {
  Lock lock(mutex_);
  TRY_ASSIGN(Pool * pool, find(ref));
  if (pool->active) return still_active(ref.name);
  TRY(make_directories(pool->def.target_path, pool->def.mode.value_or(kDefaultPoolMode)));
  emit(*pool, PoolEvent::kCreated);
  return Ok();
}

Result<void> StorageManager::start_locked(Pool& pool) {
  if (!is_directory(pool.def.target_path)) {
    return make(virt_error::kOperationInvalid, "cannot open directory '" + pool.def.target_path +
                                                   "' of pool '" + pool.def.name +
                                                   "': not a directory (see pool-build)");
  }
  return set_active(pool, true);
}

// The active mark lets a restarted daemon find its pools as it left them.
Result<void> StorageManager::set_active(Pool& pool, bool active) {
  if (pool.persistent) {
    const std::string mark = dir_.pool_active_mark(pool.def.name);
    TRY(active ? write_file_atomically(mark, "") : remove_file_durably(mark));
  }
  pool.active = active;
  emit(pool, active ? PoolEvent::kStarted : PoolEvent::kStopped);
  return Ok();
}

Result<void> StorageManager::start_pool(const PoolRef& ref) {
  Lock lock(mutex_);
  TRY_ASSIGN(Pool * pool, find(ref));
  if (pool->active) return still_active(ref.name);
  return start_locked(*pool);
}

Result<void> StorageManager::destroy_pool(const PoolRef& ref) {
  Lock lock(mutex_);
  TRY_ASSIGN(Pool * pool, find_active(ref));
  TRY(set_active(*pool, false));
  if (!pool->persistent) pools_.erase(ref.name);  // a transient pool ends with its life
  return Ok();
}

Result<void> StorageManager::delete_pool(const PoolRef& ref) {
  Lock lock(mutex_);
  TRY_ASSIGN(Pool * pool, find(ref));
  if (pool->active) return still_active(ref.name);
  if (::rmdir(pool->def.target_path.c_str()) != 0 && errno != ENOENT) {
    return make(virt_error::kSystemError,
                "cannot remove directory '" + pool->def.target_path + "': " + std::strerror(errno));
  }
  emit(*pool, PoolEvent::kDeleted);
  return Ok();
}

Result<void> StorageManager::refresh_pool(const PoolRef& ref) {
  // Volumes are read from the directory on every call: nothing to refresh.
  Lock lock(mutex_);
  TRY_ASSIGN(Pool * pool, find_active(ref));
  emit(*pool, PoolEvent::kRefreshed);
  return Ok();
}

Result<PoolInfo> StorageManager::pool_info(const PoolRef& ref) {
  Lock lock(mutex_);
  TRY_ASSIGN(Pool * pool, find(ref));
  if (!pool->active) return PoolInfo{};
  return PoolInfo{PoolState::kRunning, space_of(pool->def.target_path)};
}

Result<std::string> StorageManager::pool_xml(const PoolRef& ref) {
  Lock lock(mutex_);
  TRY_ASSIGN(Pool * pool, find(ref));
  return format_pool_xml(pool->def, pool->active ? space_of(pool->def.target_path) : PoolSpace{});
}

Result<bool> StorageManager::pool_is_active(const PoolRef& ref) {
  Lock lock(mutex_);
  TRY_ASSIGN(Pool * pool, find(ref));
  return pool->active;
}

Result<bool> StorageManager::pool_is_persistent(const PoolRef& ref) {
  Lock lock(mutex_);
  TRY_ASSIGN(Pool * pool, find(ref));
  return pool->persistent;
}

Result<bool> StorageManager::pool_autostart(const PoolRef& ref) {
  Lock lock(mutex_);
  TRY_ASSIGN(Pool * pool, find(ref));
  return pool->autostart;
}

Result<void> StorageManager::set_pool_autostart(const PoolRef& ref, bool autostart) {
  Lock lock(mutex_);
  TRY_ASSIGN(Pool * pool, find(ref));
  if (!pool->persistent) {
    return make(virt_error::kOperationInvalid, "cannot set autostart for transient pool");
  }
  const std::string mark = dir_.pool_autostart_mark(ref.name);
  TRY(autostart ? write_file_atomically(mark, "") : remove_file_durably(mark));
  pool->autostart = autostart;
  return Ok();
}

Result<std::vector<VolumeRef>> StorageManager::list_volumes(const PoolRef& ref) {
  Lock lock(mutex_);
  TRY_ASSIGN(Pool * pool, find_active(ref));
  DIR* dir = ::opendir(pool->def.target_path.c_str());
  if (dir == nullptr) {
    return make(virt_error::kSystemError,
                "cannot open directory '" + pool->def.target_path + "': " + std::strerror(errno));
  }
  std::vector<VolumeRef> volumes;
  while (dirent* entry = ::readdir(dir)) {
    std::string name = entry->d_name;
    if (valid_volume_name(name) && is_regular_file(pool->def.target_path + "/" + name)) {
      volumes.push_back(volume_ref(*pool, name));
    }
  }
  ::closedir(dir);
  std::sort(volumes.begin(), volumes.end(),
            [](const VolumeRef& a, const VolumeRef& b) { return a.name < b.name; });
  return volumes;
}

Result<VolumeRef> StorageManager::lookup_volume_by_name(const PoolRef& ref,
                                                        const std::string& name) {
  Lock lock(mutex_);
  TRY_ASSIGN(Pool * pool, find_active(ref));
  VolumeRef volume = volume_ref(*pool, name);
  if (!valid_volume_name(name) || !is_regular_file(volume.key)) return no_volume("name", name);
  return volume;
}

Result<VolumeRef> StorageManager::lookup_volume_by_path(const std::string& path) {
  Lock lock(mutex_);
  std::string clean;
  for (char c : path) {
    if (c != '/' || clean.empty() || clean.back() != '/') clean += c;
  }
  size_t slash = clean.rfind('/');
  if (slash != std::string::npos && slash > 0) {
    std::string directory = clean.substr(0, slash), name = clean.substr(slash + 1);
    for (const auto& [pool_name, pool] : pools_) {
      if (pool.active && pool.def.target_path == directory && valid_volume_name(name) &&
          is_regular_file(clean)) {
        return volume_ref(pool, name);
      }
    }
  }
  // Code 50 exactly: virt-install takes it to mean "no pool holds this file".
  return no_volume("path", path);
}

Result<VolumeRef> StorageManager::create_volume(const PoolRef& ref, const std::string& xml,
                                                bool preallocate_metadata) {
  TRY_ASSIGN(VolumeDef def, parse_volume_xml(xml));
  Lock lock(mutex_);
  TRY_ASSIGN(Pool * pool, find_active(ref));
  VolumeRef volume = volume_ref(*pool, def.name);
  TRY(daemon::create_volume(volume.key, def, preallocate_metadata));
  return volume;
}

Result<VolumeInfo> StorageManager::volume_locked(const VolumeRef& ref) {
  TRY_ASSIGN(Pool * pool, find_active({ref.pool, {}}));
  VolumeRef volume = volume_ref(*pool, ref.name);
  if (!valid_volume_name(ref.name) || !is_regular_file(volume.key)) {
    return no_volume("name", ref.name);
  }
  return inspect_volume(volume.key);
}

Result<void> StorageManager::delete_volume(const VolumeRef& ref) {
  Lock lock(mutex_);
  TRY_ASSIGN(VolumeInfo info, volume_locked(ref));
  return remove_file_durably(info.path);
}

Result<VolumeInfo> StorageManager::volume_info(const VolumeRef& ref) {
  Lock lock(mutex_);
  return volume_locked(ref);
}

Result<std::string> StorageManager::volume_xml(const VolumeRef& ref) {
  Lock lock(mutex_);
  TRY_ASSIGN(VolumeInfo info, volume_locked(ref));
  return format_volume_xml(info);
}

}  // namespace vessel::daemon
