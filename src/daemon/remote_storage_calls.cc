// The procedures on storage pools and their volumes, each a call into the
// StorageManager. Pools travel as remote_nonnull_storage_pool (name, uuid),
// volumes as remote_nonnull_storage_vol (pool, name, key).
#include "daemon/remote_procedure.h"
#include "daemon/storage_manager.h"

namespace vessel::daemon {
namespace {

using virt_error::make;

constexpr unsigned kPreallocMetadata = 1;  // VIR_STORAGE_VOL_CREATE_PREALLOC_METADATA
constexpr unsigned kGetPhysical = 1;       // VIR_STORAGE_VOL_GET_PHYSICAL
constexpr int32_t kVolumeFile = 0;         // VIR_STORAGE_VOL_FILE

PoolRef pool_arg(Call& c) {
  PoolRef ref;
  ref.name = c.string();
  ref.uuid = c.args.fixed_opaque<16>();
  return ref;
}
void put_pool(Call& c, const PoolRef& ref) {
  c.reply.string(ref.name);
  c.reply.fixed_opaque(ref.uuid);
}
VolumeRef volume_arg(Call& c) {
  VolumeRef ref;
  ref.pool = c.string();
  ref.name = c.string();
  ref.key = c.string();
  return ref;
}
void put_volume(Call& c, const VolumeRef& ref) {
  c.reply.string(ref.pool);
  c.reply.string(ref.name);
  c.reply.string(ref.key);
}

// The count (NUM_OF_*) or the names (LIST_*, bounded by the caller's
// maxnames) of the active or the inactive pools.
Handler pool_names(unsigned flags, bool names) {
  return [flags, names](Call& c) -> Result<void> {
    uint32_t max = names ? static_cast<uint32_t>(c.args.i32()) : 0;
    TRY(c.end_args());
    if (max > kListMax) return make(virt_error::kRpc, "too many storage pools requested");
    std::vector<PoolRef> pools = c.daemon.storage.list_pools(flags);
    if (!names) {
      c.reply.i32(static_cast<int32_t>(pools.size()));
      return Ok();
    }
    if (pools.size() > max) pools.resize(max);
    c.reply.u32(static_cast<uint32_t>(pools.size()));
    for (const PoolRef& ref : pools) c.reply.string(ref.name);
    return Ok();
  };
}

// Pool actions with no reply; `flagged` calls carry a flags word.
Handler pool_action(Result<void> (StorageManager::*action)(const PoolRef&), bool flagged) {
  return [action, flagged](Call& c) -> Result<void> {
    PoolRef ref = pool_arg(c);
    if (flagged) c.args.u32();
    TRY(c.end_args());
    return (c.daemon.storage.*action)(ref);
  };
}

// A pool from XML: POOL_DEFINE_XML and POOL_CREATE_XML.
Handler pool_from_xml(Result<PoolRef> (StorageManager::*add)(const std::string&)) {
  return [add](Call& c) -> Result<void> {
    std::string xml = c.string();
    c.args.u32();
    TRY(c.end_args());
    TRY_ASSIGN(PoolRef ref, (c.daemon.storage.*add)(xml));
    put_pool(c, ref);
    return Ok();
  };
}

// A pool found by one string: by name, by target path.
Handler pool_by(Result<PoolRef> (StorageManager::*lookup)(const std::string&)) {
  return [lookup](Call& c) -> Result<void> {
    std::string key = c.string();
    TRY(c.end_args());
    TRY_ASSIGN(PoolRef ref, (c.daemon.storage.*lookup)(key));
    put_pool(c, ref);
    return Ok();
  };
}

// A volume found by its key or its path (the same for directory pools).
Result<void> volume_by_path(Call& c) {
  std::string path = c.string();
  TRY(c.end_args());
  TRY_ASSIGN(VolumeRef ref, c.daemon.storage.lookup_volume_by_path(path));
  put_volume(c, ref);
  return Ok();
}

// VOL_GET_INFO and VOL_GET_INFO_FLAGS: type, capacity, allocation (or the
// file's size with VIR_STORAGE_VOL_GET_PHYSICAL).
Handler volume_info(bool flagged) {
  return [flagged](Call& c) -> Result<void> {
    VolumeRef ref = volume_arg(c);
    unsigned flags = flagged ? c.args.u32() : 0;
    TRY(c.end_args());
    TRY_ASSIGN(VolumeInfo info, c.daemon.storage.volume_info(ref));
    c.reply.i32(kVolumeFile);
    c.reply.u64(info.capacity);
    c.reply.u64((flags & kGetPhysical) ? info.physical : info.allocation);
    return Ok();
  };
}

}  // namespace

const ProcedureTable& storage_procedures() {
  using namespace pool_list_flags;
  static const ProcedureTable table = {
      // Listing and lookup of pools.
      {281,  // LIST_ALL_STORAGE_POOLS
       {[](Call& c) -> Result<void> {
          int32_t need_results = c.args.i32();
          unsigned flags = c.args.u32();
          TRY(c.end_args());
          std::vector<PoolRef> pools = c.daemon.storage.list_pools(flags);
          if (pools.size() > kListMax) pools.resize(kListMax);
          // The array only when asked for; the count always.
          c.reply.u32(need_results ? static_cast<uint32_t>(pools.size()) : 0);
          if (need_results) {
            for (const PoolRef& ref : pools) put_pool(c, ref);
          }
          c.reply.u32(static_cast<uint32_t>(pools.size()));
          return Ok();
        },
        true}},
      {71, {pool_names(kActive, false), true}},    // NUM_OF_STORAGE_POOLS
      {72, {pool_names(kActive, true), true}},     // LIST_STORAGE_POOLS
      {73, {pool_names(kInactive, false), true}},  // NUM_OF_DEFINED_STORAGE_POOLS
      {74, {pool_names(kInactive, true), true}},   // LIST_DEFINED_STORAGE_POOLS
      {84, {pool_by(&StorageManager::lookup_pool_by_name), true}},
      {391, {pool_by(&StorageManager::lookup_pool_by_target_path), true}},
      {85,  // POOL_LOOKUP_BY_UUID
       {[](Call& c) -> Result<void> {
          Uuid uuid = c.args.fixed_opaque<16>();
          TRY(c.end_args());
          TRY_ASSIGN(PoolRef ref, c.daemon.storage.lookup_pool_by_uuid(uuid));
          put_pool(c, ref);
          return Ok();
        },
        true}},
      {86,  // POOL_LOOKUP_BY_VOLUME
       {[](Call& c) -> Result<void> {
          VolumeRef volume = volume_arg(c);
          TRY(c.end_args());
          TRY_ASSIGN(PoolRef ref, c.daemon.storage.lookup_pool_by_volume(volume));
          put_pool(c, ref);
          return Ok();
        },
        true}},

      // Pool queries.
      {87,  // POOL_GET_INFO
       {[](Call& c) -> Result<void> {
          PoolRef ref = pool_arg(c);
          TRY(c.end_args());
          TRY_ASSIGN(PoolInfo info, c.daemon.storage.pool_info(ref));
          c.reply.u32(static_cast<uint32_t>(info.state));  // an unsigned char: 4 bytes
          c.reply.u64(info.space.capacity);
          c.reply.u64(info.space.allocation);
          c.reply.u64(info.space.available);
          return Ok();
        },
        true}},
      {88,  // POOL_GET_XML_DESC
       {[](Call& c) -> Result<void> {
          PoolRef ref = pool_arg(c);
          c.args.u32();
          TRY(c.end_args());
          TRY_ASSIGN(std::string xml, c.daemon.storage.pool_xml(ref));
          c.reply.string(xml);
          return Ok();
        },
        true}},
      {89, {int_reply(pool_arg, &StorageManager::pool_autostart), true}},
      {154, {int_reply(pool_arg, &StorageManager::pool_is_active), true}},
      {155, {int_reply(pool_arg, &StorageManager::pool_is_persistent), true}},

      // Pool changes.
      {77, {pool_from_xml(&StorageManager::define_pool)}},
      {76, {pool_from_xml(&StorageManager::create_pool)}},
      {78, {pool_action(&StorageManager::start_pool, true)}},
      {79, {pool_action(&StorageManager::build_pool, true)}},
      {80, {pool_action(&StorageManager::destroy_pool, false)}},
      {81, {pool_action(&StorageManager::delete_pool, true)}},
      {82, {pool_action(&StorageManager::undefine_pool, false)}},
      {83, {pool_action(&StorageManager::refresh_pool, true)}},
      {90,  // POOL_SET_AUTOSTART
       {[](Call& c) -> Result<void> {
         PoolRef ref = pool_arg(c);
         int32_t autostart = c.args.i32();
         TRY(c.end_args());
         return c.daemon.storage.set_pool_autostart(ref, autostart != 0);
       }}},

      // Volumes.
      {282,  // POOL_LIST_ALL_VOLUMES
       {[](Call& c) -> Result<void> {
          PoolRef ref = pool_arg(c);
          int32_t need_results = c.args.i32();
          c.args.u32();
          TRY(c.end_args());
          TRY_ASSIGN(std::vector<VolumeRef> volumes, c.daemon.storage.list_volumes(ref));
          if (volumes.size() > kListMax) volumes.resize(kListMax);
          c.reply.u32(need_results ? static_cast<uint32_t>(volumes.size()) : 0);
          if (need_results) {
            for (const VolumeRef& volume : volumes) put_volume(c, volume);
          }
          c.reply.u32(static_cast<uint32_t>(volumes.size()));
          return Ok();
        },
        true}},
      {91,  // POOL_NUM_OF_VOLUMES
       {[](Call& c) -> Result<void> {
          PoolRef ref = pool_arg(c);
          TRY(c.end_args());
          TRY_ASSIGN(std::vector<VolumeRef> volumes, c.daemon.storage.list_volumes(ref));
          c.reply.i32(static_cast<int32_t>(volumes.size()));
          return Ok();
        },
        true}},
      {92,  // POOL_LIST_VOLUMES
       {[](Call& c) -> Result<void> {
          PoolRef ref = pool_arg(c);
          uint32_t max = static_cast<uint32_t>(c.args.i32());
          TRY(c.end_args());
          if (max > kListMax) return make(virt_error::kRpc, "too many storage volumes requested");
          TRY_ASSIGN(std::vector<VolumeRef> volumes, c.daemon.storage.list_volumes(ref));
          if (volumes.size() > max) volumes.resize(max);
          c.reply.u32(static_cast<uint32_t>(volumes.size()));
          for (const VolumeRef& volume : volumes) c.reply.string(volume.name);
          return Ok();
        },
        true}},
      {95,  // VOL_LOOKUP_BY_NAME
       {[](Call& c) -> Result<void> {
          PoolRef pool = pool_arg(c);
          std::string name = c.string();
          TRY(c.end_args());
          TRY_ASSIGN(VolumeRef ref, c.daemon.storage.lookup_volume_by_name(pool, name));
          put_volume(c, ref);
          return Ok();
        },
        true}},
      {96, {volume_by_path, true}},  // VOL_LOOKUP_BY_KEY
      {97, {volume_by_path, true}},  // VOL_LOOKUP_BY_PATH
      {98, {volume_info(false), true}},
      {378, {volume_info(true), true}},
      {99,  // VOL_GET_XML_DESC
       {[](Call& c) -> Result<void> {
          VolumeRef ref = volume_arg(c);
          c.args.u32();
          TRY(c.end_args());
          TRY_ASSIGN(std::string xml, c.daemon.storage.volume_xml(ref));
          c.reply.string(xml);
          return Ok();
        },
        true}},
      {100,  // VOL_GET_PATH
       {[](Call& c) -> Result<void> {
          VolumeRef ref = volume_arg(c);
          TRY(c.end_args());
          TRY_ASSIGN(VolumeInfo info, c.daemon.storage.volume_info(ref));
          c.reply.string(info.path);
          return Ok();
        },
        true}},
      {93,  // VOL_CREATE_XML
       {[](Call& c) -> Result<void> {
         PoolRef pool = pool_arg(c);
         std::string xml = c.string();
         unsigned flags = c.args.u32();
         TRY(c.end_args());
         TRY_ASSIGN(VolumeRef ref,
                    c.daemon.storage.create_volume(pool, xml, flags & kPreallocMetadata));
         put_volume(c, ref);
         return Ok();
       }}},
      {94,  // VOL_DELETE
       {[](Call& c) -> Result<void> {
         VolumeRef ref = volume_arg(c);
         c.args.u32();
         TRY(c.end_args());
         return c.daemon.storage.delete_volume(ref);
       }}},
  };
  return table;
}

}  // namespace vessel::daemon
