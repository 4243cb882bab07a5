// The files behind a directory pool's volumes: what one holds (inspect) and
// how a new one is made (create): a qcow2 volume by the image layer's create,
// a raw one here (its allocation may be part of its capacity, which qemu-img
// create cannot ask for). Inspecting reads the qcow2 header only, never the
// image layer's info, which would open the backing files the image names.
#pragma once

#include <string>

#include "base/result.h"
#include "daemon/storage_def.h"

namespace vessel::daemon {

// Describes the regular file at `path`. The format is qcow2 only when the
// file starts with qcow2's magic; only the header is read, so no backing or
// data file the image names is ever opened (its content is the guest's).
Result<VolumeInfo> inspect_volume(const std::string& path);

// Creates the file at `path`, which must not exist yet (VIR_ERR_STORAGE_VOL_EXIST
// otherwise). `preallocate_metadata`: VIR_STORAGE_VOL_CREATE_PREALLOC_METADATA.
// A failed creation leaves no file behind.
Result<void> create_volume(const std::string& path, const VolumeDef& def,
                           bool preallocate_metadata);

}  // namespace vessel::daemon
