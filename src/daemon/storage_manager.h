// The storage pools one daemon manages and the volumes in them. A pool is a
// host directory; its definition is kept in the state directory (persistent)
// or only in memory (transient, POOL_CREATE_XML). Its volumes are not
// recorded anywhere: they are the regular files in the directory, found
// afresh on every call, so files added or removed behind the daemon's back
// show at once. Every operation returns libvirt's error kinds (virt_error.h).
//
// Locking: one mutex guards the table and orders volume creation and
// deletion against each other.
#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "base/result.h"
#include "daemon/state_dir.h"
#include "daemon/storage_def.h"

namespace vessel::daemon {

// How a client names a pool (remote_nonnull_storage_pool) and a volume
// (remote_nonnull_storage_vol: a directory pool's volume key is its path).
struct PoolRef {
  std::string name;
  Uuid uuid{};
};
struct VolumeRef {
  std::string pool;
  std::string name;
  std::string key;
};

// virConnectListAllStoragePoolsFlags that Vessel can answer.
namespace pool_list_flags {
inline constexpr unsigned kInactive = 1, kActive = 2, kPersistent = 4, kTransient = 8,
                          kAutostart = 16, kNoAutostart = 32, kDir = 64;
}

struct PoolInfo {
  PoolState state = PoolState::kInactive;
  PoolSpace space;
};

// libvirt's storage pool lifecycle events (virStoragePoolEventLifecycleType:
// kCreated is a pool-build, kDeleted a pool-delete), and kRefreshed for its
// separate REFRESH event.
enum class PoolEvent {
  kDefined = 0,
  kUndefined = 1,
  kStarted = 2,
  kStopped = 3,
  kCreated = 4,
  kDeleted = 5,
  kRefreshed
};

class StorageManager {
 public:
  using EventListener = std::function<void(const PoolRef&, PoolEvent)>;

  // Pool directories must lie under `pool_root` (the fuzzer's scratch
  // directory; "/" for the daemon).
  explicit StorageManager(StateDir dir, std::string pool_root = "/");

  // Loads the definitions and starts the pools that were active or are
  // marked autostart. Problems are logged.
  void recover();
  void set_event_listener(EventListener listener);

  std::vector<PoolRef> list_pools(unsigned flags);
  Result<PoolRef> lookup_pool_by_name(const std::string& name);
  Result<PoolRef> lookup_pool_by_uuid(const Uuid& uuid);
  Result<PoolRef> lookup_pool_by_target_path(const std::string& path);
  Result<PoolRef> lookup_pool_by_volume(const VolumeRef& volume);

  Result<PoolRef> define_pool(const std::string& xml);
  Result<PoolRef> create_pool(const std::string& xml);  // transient, started
  Result<void> undefine_pool(const PoolRef& ref);
  Result<void> build_pool(const PoolRef& ref);
  Result<void> start_pool(const PoolRef& ref);
  Result<void> destroy_pool(const PoolRef& ref);
  Result<void> delete_pool(const PoolRef& ref);
  Result<void> refresh_pool(const PoolRef& ref);

  Result<PoolInfo> pool_info(const PoolRef& ref);
  Result<std::string> pool_xml(const PoolRef& ref);
  Result<bool> pool_is_active(const PoolRef& ref);
  Result<bool> pool_is_persistent(const PoolRef& ref);
  Result<bool> pool_autostart(const PoolRef& ref);
  Result<void> set_pool_autostart(const PoolRef& ref, bool autostart);

  Result<std::vector<VolumeRef>> list_volumes(const PoolRef& ref);
  Result<VolumeRef> lookup_volume_by_name(const PoolRef& ref, const std::string& name);
  // The key of a directory pool's volume is its path: both look the same up.
  Result<VolumeRef> lookup_volume_by_path(const std::string& path);
  Result<VolumeRef> create_volume(const PoolRef& ref, const std::string& xml,
                                  bool preallocate_metadata);
  Result<void> delete_volume(const VolumeRef& ref);
  Result<VolumeInfo> volume_info(const VolumeRef& ref);
  Result<std::string> volume_xml(const VolumeRef& ref);

 private:
  struct Pool {
    PoolDef def;
    bool persistent = false;
    bool active = false;
    bool autostart = false;
  };
  using Lock = std::unique_lock<std::mutex>;

  Result<Pool*> find(const PoolRef& ref);
  Result<Pool*> find_active(const PoolRef& ref);
  Pool* find_by_name(const std::string& name);
  Result<void> check_conflicts(const PoolDef& def);
  Result<PoolRef> add_pool(const std::string& xml, bool persistent);
  Result<void> start_locked(Pool& pool);
  Result<void> set_active(Pool& pool, bool active);
  Result<VolumeInfo> volume_locked(const VolumeRef& ref);
  void emit(const Pool& pool, PoolEvent event);
  static PoolRef ref_of(const Pool& pool);
  static VolumeRef volume_ref(const Pool& pool, const std::string& name);

  StateDir dir_;
  std::string pool_root_;
  std::mutex mutex_;
  std::map<std::string, Pool> pools_;
  EventListener listener_;
};

}  // namespace vessel::daemon
