// External snapshots of a running disk (QMP blockdev-snapshot-sync): a new
// qcow2 overlay whose backing file is the disk's current image takes the
// guest's writes from then on, so the current image stays as it was at that
// moment. The guest runs on; only its requests to that disk wait while the
// image is switched (the old image flushed, the overlay opened).
#pragma once

#include <string>

#include "base/result.h"
#include "machine/board.h"

namespace vessel::vmm {

// QEMU's NewImageMode.
enum class OverlayMode {
  kAbsolutePaths,  // create the overlay, naming the current image by its absolute path
  kExisting,       // use an existing qcow2 image that names the current image as backing file
};

// Puts an overlay at `overlay_path` over disk `index`. The overlay may not be
// a file the VM's disks use (creating it would destroy that file); a new
// overlay that cannot be switched to is removed again.
Result<void> snapshot_to_overlay(machine::Board& board, size_t index,
                                 const std::string& overlay_path, OverlayMode mode);

}  // namespace vessel::vmm
