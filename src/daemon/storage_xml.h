// libvirt's storage pool and volume XML (https://libvirt.org/formatstorage.html)
// to and from the definitions of storage_def.h. What Vessel cannot honour
// (pool types other than 'dir', volume formats other than raw and qcow2,
// backing stores, encryption) is refused with an error naming it.
#pragma once

#include <string>

#include "base/result.h"
#include "daemon/storage_def.h"

namespace vessel::daemon {

// Fills in a UUID when the XML has none, as libvirt does.
Result<PoolDef> parse_pool_xml(const std::string& xml);
// `space` is the active pool's file system; zeros for an inactive one.
std::string format_pool_xml(const PoolDef& def, const PoolSpace& space);

Result<VolumeDef> parse_volume_xml(const std::string& xml);
std::string format_volume_xml(const VolumeInfo& volume);

}  // namespace vessel::daemon
