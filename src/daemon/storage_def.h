// Storage pools and volumes: what libvirt's storage XML says, reduced to what
// Vessel honours (https://libvirt.org/formatstorage.html). A pool is a host
// directory (<pool type='dir'>); its volumes are the regular files in it.
// Parsed from and written back as libvirt's XML by storage_xml.h.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "daemon/domain_def.h"

namespace vessel::daemon {

struct PoolDef {
  std::string name;
  Uuid uuid{};
  std::string target_path;       // absolute, without a trailing '/'
  std::optional<uint32_t> mode;  // <target><permissions><mode>: for pool-build
};

// libvirt's virStoragePoolState.
enum class PoolState { kInactive = 0, kRunning = 2 };

// A pool's file system (statvfs of its directory); zeros while inactive.
struct PoolSpace {
  uint64_t capacity = 0;
  uint64_t allocation = 0;
  uint64_t available = 0;
};

enum class VolumeFormat { kRaw, kQcow2 };

// A volume to create (VOL_CREATE_XML).
struct VolumeDef {
  std::string name;
  uint64_t capacity = 0;    // bytes the guest sees
  uint64_t allocation = 0;  // bytes to allocate on the host now
  VolumeFormat format = VolumeFormat::kRaw;
  bool qcow2_v2 = false;  // <compat>0.10</compat>
  bool lazy_refcounts = false;
};

// A volume as found on disk.
struct VolumeInfo {
  std::string name;
  std::string path;
  VolumeFormat format = VolumeFormat::kRaw;  // qcow2 only by its magic, for display
  uint64_t capacity = 0;                     // the virtual size
  uint64_t allocation = 0;                   // host blocks in use
  uint64_t physical = 0;                     // the file's size
  uint32_t mode = 0;
  uint32_t owner = 0;
  uint32_t group = 0;
};

const char* volume_format_name(VolumeFormat format);

}  // namespace vessel::daemon
