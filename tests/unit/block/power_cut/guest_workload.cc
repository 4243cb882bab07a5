#include "guest_workload.h"

#include <algorithm>
#include <random>
#include <vector>

#include "host_io_journal.h"

namespace vessel::block::testing {
namespace {

class Guest {
 public:
  Guest(BlockBackend& disk, GuestModel& model, const GuestWorkload& w)
      : disk_(disk),
        model_(model),
        w_(w),
        random_(w.seed),
        sectors_(disk.size() / kGuestSectorSize) {}

  GuestRun run() {
    GuestRun result;
    for (int i = 0; i < w_.requests && result.error.empty(); ++i) {
      if (i == w_.requests / 2 && w_.midway) {
        result.error = flush();
        if (!result.error.empty()) break;
        result.midway_mark = model_.now();
        result.error = check("midway", w_.midway());
        result.midway_done = host_io_journal_position();
        continue;
      }
      result.error = request();
    }
    return result;
  }

 private:
  uint64_t below(uint64_t n) { return n == 0 ? 0 : random_() % n; }
  uint64_t cluster_sectors() const { return w_.cluster_size / kGuestSectorSize; }

  static std::string check(const char* what, const Result<void>& r) {
    return r.ok() ? "" : std::string(what) + ": " + r.error().message();
  }

  std::string write(uint64_t sector, uint64_t count) {
    count = std::min(count, sectors_ - sector);
    std::vector<uint8_t> data(count * kGuestSectorSize);
    model_.write(sector * kGuestSectorSize, data, host_io_journal_position());
    recent_.push_back(sector);
    return check("write", disk_.write(sector * kGuestSectorSize, data));
  }

  std::string flush() {
    std::string error = check("flush", disk_.flush());
    model_.flush_done(host_io_journal_position());
    return error;
  }

  // A run of `max` whole clusters at most, at a random cluster.
  std::pair<uint64_t, uint64_t> clusters(uint64_t max) {
    uint64_t total = sectors_ / cluster_sectors();
    uint64_t first = below(total);
    uint64_t count = std::min<uint64_t>(1 + below(max), total - first);
    return {first * cluster_sectors(), count * cluster_sectors()};
  }

  std::string request() {
    uint64_t r = below(100);
    if (r < 35) {
      // Anywhere, one sector to a bit over two clusters: partial clusters
      // (copy-on-write of the rest), new L2 tables, new refcount blocks.
      uint64_t count = below(4) == 0 ? 1 + below(2 * cluster_sectors() + 2) : 1 + below(16);
      return write(below(sectors_), count);
    }
    if (r < 45) {
      // Whole clusters: a run of new clusters.
      auto [sector, count] = clusters(std::max<uint64_t>(4, w_.max_run / w_.cluster_size));
      return write(sector, count);
    }
    if (r < 55 && !recent_.empty()) {
      // Over a recent write: in place, or a copy of a cluster a snapshot shares.
      uint64_t sector = recent_[recent_.size() - 1 - below(std::min<size_t>(recent_.size(), 8))];
      return write(sector, 1 + below(8));
    }
    if (r < 63) {
      uint64_t sector = below(sectors_);
      uint64_t count = std::min<uint64_t>(1 + below(3 * cluster_sectors()), sectors_ - sector);
      ZeroMode mode = below(2) ? ZeroMode::kDeallocate : ZeroMode::kKeepAllocation;
      model_.zero(sector * kGuestSectorSize, count * kGuestSectorSize, host_io_journal_position());
      return check("write_zeroes",
                   disk_.write_zeroes(sector * kGuestSectorSize, count * kGuestSectorSize, mode));
    }
    if (r < 70 && w_.discards) {
      auto [sector, count] = clusters(3);
      model_.zero(sector * kGuestSectorSize, count * kGuestSectorSize, host_io_journal_position());
      return check("discard", disk_.discard(sector * kGuestSectorSize, count * kGuestSectorSize));
    }
    if (r < 76 && w_.write_compressed) {
      auto [sector, count] = clusters(1);
      std::vector<uint8_t> data(count * kGuestSectorSize);
      model_.write(sector * kGuestSectorSize, data, host_io_journal_position());
      return check("write_compressed", w_.write_compressed(sector * kGuestSectorSize, data));
    }
    if (r < 80) return write(below(sectors_), 1);
    return flush();
  }

  BlockBackend& disk_;
  GuestModel& model_;
  const GuestWorkload& w_;
  std::mt19937_64 random_;
  const uint64_t sectors_;
  std::vector<uint64_t> recent_;
};

}  // namespace

GuestRun run_guest_workload(BlockBackend& disk, GuestModel& model, const GuestWorkload& workload) {
  return Guest(disk, model, workload).run();
}

}  // namespace vessel::block::testing
