#include "power_cut.h"

#include <algorithm>

namespace vessel::block::testing {
namespace {

void write_bytes(std::vector<uint8_t>& file, uint64_t offset, std::span<const uint8_t> data) {
  if (file.size() < offset + data.size()) file.resize(offset + data.size(), 0);
  std::copy(data.begin(), data.end(), file.begin() + static_cast<ptrdiff_t>(offset));
}

// What one unsynced operation leaves behind in a cut.
enum class Fate { kLost, kKept, kTorn };

// Builds the file of one cut: `durable` plus those of the unsynced operations
// from `first` on that their fates let through.
class CutBuilder {
 public:
  CutBuilder(const std::vector<HostOp>& ops, std::mt19937& random) : ops_(ops), random_(random) {}

  // The result stays valid until the next call (its buffer is reused).
  const PowerCut& build(const std::vector<uint8_t>& durable, size_t first,
                        const std::vector<Fate>& fates, size_t position,
                        const std::string& interval) {
    PowerCut& cut = cut_;
    cut.position = position;
    cut.file.assign(durable.begin(), durable.end());
    std::string kept, torn;
    for (size_t k = 0; k < fates.size(); ++k) {
      const HostOp& op = ops_[first + k];
      // Only a write of several sectors can tear; anything else survives whole.
      Fate fate = fates[k] == Fate::kTorn && sectors(op) < 2 ? Fate::kKept : fates[k];
      if (fate == Fate::kKept) {
        apply_host_op(cut.file, op);
        kept += " " + std::to_string(first + k);
      } else if (fate == Fate::kTorn) {
        std::vector<bool> keep(sectors(op));
        for (size_t s = 0; s < keep.size(); ++s) keep[s] = random_() % 2 == 0;
        apply_host_op(cut.file, op, &keep);
        torn += " " + std::to_string(first + k);
      }
    }
    cut.what = interval + ", power cut before op " + std::to_string(position) +
               "; unsynced ops that reached the disk:" + (kept.empty() ? " none" : kept) +
               (torn.empty() ? "" : "; in part (torn at sectors):" + torn);
    return cut;
  }

  static size_t sectors(const HostOp& op) {
    if (op.kind != HostOp::Kind::kWrite || op.length == 0) return 0;
    uint64_t first = op.offset / kHostSectorSize;
    uint64_t last = (op.offset + op.length - 1) / kHostSectorSize;
    return static_cast<size_t>(last - first + 1);
  }

 private:
  const std::vector<HostOp>& ops_;
  std::mt19937& random_;
  PowerCut cut_;
};

}  // namespace

void apply_host_op(std::vector<uint8_t>& file, const HostOp& op,
                   const std::vector<bool>* keep_sector) {
  switch (op.kind) {
    case HostOp::Kind::kWrite: {
      std::span<const uint8_t> data(op.data);
      uint64_t done = 0;
      for (size_t s = 0; done < data.size(); ++s) {
        uint64_t at = op.offset + done;
        uint64_t piece =
            std::min<uint64_t>(data.size() - done, kHostSectorSize - at % kHostSectorSize);
        if (keep_sector == nullptr || (*keep_sector)[s]) {
          write_bytes(file, at, data.subspan(done, piece));
        }
        done += piece;
      }
      break;
    }
    case HostOp::Kind::kTruncate:
      file.resize(op.length, 0);
      break;
    case HostOp::Kind::kZero:
      if (op.offset < file.size()) {
        uint64_t end = std::min<uint64_t>(file.size(), op.offset + op.length);
        std::fill(file.begin() + static_cast<ptrdiff_t>(op.offset),
                  file.begin() + static_cast<ptrdiff_t>(end), 0);
      }
      break;
    case HostOp::Kind::kSync:
      break;
  }
}

void for_each_power_cut(std::span<const uint8_t> base, const std::vector<HostOp>& ops,
                        const PowerCutPlan& plan,
                        const std::function<bool(const PowerCut&)>& check) {
  std::mt19937 random(plan.seed);
  CutBuilder builder(ops, random);
  std::vector<uint8_t> durable(base.begin(), base.end());
  for (size_t first = 0;;) {
    // The interval [first, end): operations no sync has covered yet. The cut
    // comes before the sync at `end` returned (or at the end of the journal).
    size_t end = first;
    while (end < ops.size() && ops[end].kind != HostOp::Kind::kSync) ++end;
    const size_t n = end - first;
    const std::string interval =
        n == 0 ? "no unsynced ops"
               : "unsynced ops " + std::to_string(first) + ".." + std::to_string(end - 1);
    auto emit = [&](const std::vector<Fate>& fates, size_t position) {
      return check(builder.build(durable, first, fates, position, interval));
    };

    if (!emit(std::vector<Fate>(n, Fate::kLost), end)) return;
    if (n > 0 && !emit(std::vector<Fate>(n, Fate::kKept), end)) return;
    if (n <= plan.exhaustive_up_to) {
      for (uint64_t mask = 1; n > 0 && mask + 1 < (uint64_t{1} << n); ++mask) {
        std::vector<Fate> fates(n);
        for (size_t k = 0; k < n; ++k) fates[k] = (mask >> k) & 1 ? Fate::kKept : Fate::kLost;
        if (!emit(fates, end)) return;
      }
    } else {
      for (size_t lost = 0; lost < n; ++lost) {
        std::vector<Fate> fates(n, Fate::kKept);
        fates[lost] = Fate::kLost;
        if (!emit(fates, end)) return;
      }
      for (int i = 0; i < plan.random_subsets; ++i) {
        std::vector<Fate> fates(n);
        for (Fate& f : fates) {
          uint32_t r = random() % 8;
          f = r < 3 ? Fate::kLost : r < 6 ? Fate::kKept : Fate::kTorn;
        }
        if (!emit(fates, end)) return;
      }
    }
    for (int i = 0; n > 1 && i < plan.random_prefixes; ++i) {
      size_t cut = 1 + random() % (n - 1);  // ops [first, first + cut) reached the disk
      std::vector<Fate> fates(cut, Fate::kKept);
      if (!emit(fates, first + cut)) return;
    }

    if (end == ops.size()) return;
    for (size_t k = first; k < end; ++k) apply_host_op(durable, ops[k]);
    first = end + 1;
  }
}

}  // namespace vessel::block::testing
