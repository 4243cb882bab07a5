// The default guest that `make -C guest` builds: kernel, initramfs, data disk
// and kernel command line, used by `vessel run` when no kernel or firmware
// is named.
#pragma once

#include <optional>
#include <string>

#include "base/result.h"

namespace vessel::cli {

struct DefaultGuest {
  std::string kernel;               // Image
  std::string initrd;               // initramfs.cpio.gz
  std::optional<std::string> disk;  // disk.ext4, if built
  std::string cmdline;              // contents of cmdline, if present
};

// $VESSEL_GUEST_DIR, else the source tree's guest/out.
std::string default_guest_dir();

// The guest's files, or an error telling the user how to build them.
Result<DefaultGuest> find_default_guest();

}  // namespace vessel::cli
