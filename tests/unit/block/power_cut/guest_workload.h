// A seeded, reproducible guest: writes of one sector to several clusters
// (new clusters, runs of whole clusters, overwrites of recent writes),
// write_zeroes in both modes, discards of whole clusters, and flushes at
// random points, each recorded in a GuestModel with the journal position at
// which it was issued (or, for flushes, returned).
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>

#include "base/result.h"
#include "block/block_backend.h"
#include "guest_model.h"

namespace vessel::block::testing {

struct GuestWorkload {
  uint32_t seed = 1;
  int requests = 100;
  // Whole-cluster requests align to this.
  uint64_t cluster_size = 65536;
  // The longest run of whole clusters one write fills (at least 4 clusters).
  uint64_t max_run = 0;
  // Discards of whole clusters, which the backend must turn into zeros.
  bool discards = true;
  // Optional: stores one whole cluster compressed (Qcow2Image::write_compressed).
  std::function<Result<void>(uint64_t offset, std::span<const uint8_t> data)> write_compressed;
  // Optional: run once, halfway, after a flush (an internal snapshot); the
  // guest's contents then are what it must save.
  std::function<Result<void>()> midway;
};

struct GuestRun {
  std::string error;  // empty when every request succeeded
  // GuestModel::now() when `midway` ran, and the journal position once it returned.
  size_t midway_mark = 0;
  size_t midway_done = 0;
};

GuestRun run_guest_workload(BlockBackend& disk, GuestModel& model, const GuestWorkload& workload);

}  // namespace vessel::block::testing
