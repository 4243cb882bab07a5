// The model of a power failure: whatever a completed fdatasync covered is on
// disk; of the operations since the last one, any subset may have reached
// it, in any order the page cache and the disk like (applied in issue order,
// since the cache only ever holds the latest bytes of a page), and a write
// may be torn at sector boundaries. The file is rebuilt as each chosen cut
// leaves it, from its bytes when the journal started.
#pragma once

#include <cstdint>
#include <functional>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "host_io_journal.h"

namespace vessel::block::testing {

// The unit a disk writes atomically.
constexpr uint64_t kHostSectorSize = 512;

struct PowerCut {
  // Host operations issued before the power failed: journal entries
  // [0, position). Guest requests that returned by then count as done.
  size_t position = 0;
  // How the unsynced operations fared, for failure messages.
  std::string what;
  // The file as the host finds it after the restart.
  std::vector<uint8_t> file;
};

struct PowerCutPlan {
  // Per sync interval, beyond "all lost" and "all kept": an interval of at
  // most this many operations is tried with every subset of them; a longer
  // one with each operation lost alone (a sync missing between two
  // operations shows when the later one lands without the earlier one)...
  size_t exhaustive_up_to = 3;
  // ...and with this many random subsets, some writes torn.
  int random_subsets = 2;
  // Cuts at a random point inside each interval, with everything issued
  // before it kept (a disk that writes in order).
  int random_prefixes = 1;
  uint32_t seed = 1;
};

// Calls `check` with the file as each planned cut leaves it. The cuts cover
// every sync interval of `ops`, the end included; `check` may stop the walk
// by returning false.
void for_each_power_cut(std::span<const uint8_t> base, const std::vector<HostOp>& ops,
                        const PowerCutPlan& plan,
                        const std::function<bool(const PowerCut&)>& check);

// Applies one operation to a file held in memory; `keep_sector`, when given,
// chooses which sectors of a write reach the disk (the rest are torn off).
void apply_host_op(std::vector<uint8_t>& file, const HostOp& op,
                   const std::vector<bool>* keep_sector = nullptr);

}  // namespace vessel::block::testing
