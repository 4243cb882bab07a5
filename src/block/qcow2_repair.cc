// Refcount repair for images left with the dirty bit set ("Dirty bit ... make
// sure to scan L1/L2 tables to repair refcounts before accessing the image"):
// count every reference from the header, the L1 tables (active and
// snapshots), the L2 tables and the snapshot table, then write a fresh
// refcount structure and fix the "copied" flags of the active tables.
#include <algorithm>
#include <cstdio>

#include "block/qcow2.h"

namespace vessel::block {

using namespace qcow2;

namespace {

// Counting needs 4 bytes per host cluster; past this (256 MiB of counts) the
// image is too big to repair in memory here.
constexpr uint64_t kMaxRepairClusters = uint64_t{1} << 26;

std::string hex(uint64_t value) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%llx", static_cast<unsigned long long>(value));
  return buf;
}

}  // namespace

Result<std::vector<uint32_t>> Qcow2Image::count_references(bool refcount_structure) {
  const std::string& path = file_->path();
  const uint64_t cs = geometry_.cluster_size();
  uint64_t file_clusters = div_round_up(file_->size(), cs);
  if (file_clusters > kMaxRepairClusters) {
    return Error(path + ": the image is too large to repair here");
  }
  std::vector<uint32_t> counts(file_clusters, 0);
  auto count = [&](uint64_t offset, uint64_t length, const char* what) -> Result<void> {
    if (length == 0) return Ok();
    uint64_t last = geometry_.cluster_index(offset + length - 1);
    if (last >= counts.size()) {
      return Error(path + ": cannot repair: " + what + " at offset " + std::to_string(offset) +
                   " lies past the end of the file");
    }
    for (uint64_t c = geometry_.cluster_index(offset); c <= last; ++c) {
      if (counts[c] == UINT32_MAX) {
        return Error(path + ": cannot repair: cluster " + std::to_string(c) +
                     " has too many references");
      }
      ++counts[c];
    }
    return Ok();
  };

  TRY(count(0, cs, "the header"));
  TRY(count(header_.l1_table_offset, uint64_t{header_.l1_size} * 8, "the L1 table"));
  TRY(count(header_.snapshots_offset, snapshots_.table_bytes, "the snapshot table"));
  TRY_ASSIGN(auto bitmap_ranges, qcow2_bitmap_clusters(*file_, header_, bitmaps_));
  for (const auto& [offset, length] : bitmap_ranges) TRY(count(offset, length, "a bitmap"));
  if (refcount_structure) {
    for (uint64_t c = 0; c < file_clusters; ++c) {
      if (refcounts_->is_metadata(c)) TRY(count(c * cs, cs, "refcount metadata"));
    }
  }

  // Every L2 table and data cluster, once for each L1 table that reaches it.
  auto count_l1 = [&](const std::vector<uint64_t>& l1) -> Result<void> {
    for (uint64_t i = 0; i < l1.size(); ++i) {
      uint64_t l2_offset = l1[i] & kL1OffsetMask;
      if (l2_offset == 0) continue;
      if (!geometry_.aligned(l2_offset) || l2_offset >= file_->size()) {
        return Error(path + ": cannot repair: L1 entry " + std::to_string(i) + " is invalid");
      }
      TRY(count(l2_offset, cs, "an L2 table"));
      TRY_ASSIGN(Qcow2Table * table, l2_cache_->get(l2_offset));
      std::vector<uint64_t> entries(geometry_.l2_entries()), bitmaps(entries.size());
      for (uint64_t j = 0; j < entries.size(); ++j) {
        entries[j] = l2_entry(*table, j);
        bitmaps[j] = l2_bitmap(*table, j);
      }
      for (uint64_t j = 0; j < entries.size(); ++j) {
        uint64_t guest = (i * geometry_.l2_entries() + j) << geometry_.cluster_bits;
        TRY_ASSIGN(Mapping m, classify(entries[j], guest, false, bitmaps[j]));
        if (m.kind == ClusterKind::kCompressed) {
          CompressedExtent e = compressed_extent(geometry_, m.entry);
          TRY(count(e.offset, e.length, "compressed data"));
        } else if (m.has_host && !data_file_) {
          TRY(count(m.host, cs, "a data cluster"));
        }
      }
    }
    return Ok();
  };
  TRY(count_l1(l1_));
  for (const auto& s : snapshots_.snapshots) {
    TRY(count(s.l1_table_offset, uint64_t{s.l1_size} * 8, "a snapshot L1 table"));
    std::vector<uint8_t> raw(uint64_t{s.l1_size} * 8);
    TRY(file_->read(s.l1_table_offset, raw));
    std::vector<uint64_t> l1(s.l1_size);
    for (uint64_t i = 0; i < l1.size(); ++i) l1[i] = load_be64(&raw[i * 8]);
    TRY(count_l1(l1));
  }
  return counts;
}

Result<void> Qcow2Image::repair_refcounts() {
  const std::string& path = file_->path();
  // Bitmap clusters are counted like any metadata; the bitmaps themselves
  // stay as the crash left them (in use: inconsistent), as with QEMU.
  auto counted = count_references(false);
  if (!counted) {
    return Error(path + ": the image was not closed cleanly and cannot be repaired: " +
                 counted.error().message());
  }
  std::vector<uint32_t> counts = std::move(*counted);

  // "copied" flags of the active tables follow the new counts.
  for (uint64_t i = 0; i < l1_.size(); ++i) {
    uint64_t l2_offset = l1_[i] & kL1OffsetMask;
    if (l2_offset == 0) continue;
    bool single = counts[geometry_.cluster_index(l2_offset)] == 1;
    uint64_t want = single ? (l1_[i] | kOflagCopied) : (l1_[i] & ~kOflagCopied);
    if (want != l1_[i]) {
      l1_[i] = want;
      l1_dirty_sectors_.insert(i / 64);
    }
    TRY_ASSIGN(Qcow2Table * table, l2_cache_->get(l2_offset));
    for (uint64_t j = 0; j < geometry_.l2_entries(); ++j) {
      uint64_t entry = l2_entry(*table, j);
      if ((entry & kOflagCompressed) != 0) continue;
      uint64_t host = entry & kL2OffsetMask;
      if (host == 0) continue;  // (with a data file: unallocated, or already copied)
      bool owned = data_file_ || counts[geometry_.cluster_index(host)] == 1;
      uint64_t fixed = owned ? (entry | kOflagCopied) : (entry & ~kOflagCopied);
      if (fixed != entry) set_l2_descriptor(*table, j, fixed);
    }
  }
  // The tables as counted, then the counts, then a clean header.
  TRY(l2_cache_->writeback());
  if (!l1_dirty_sectors_.empty()) TRY(write_l1());
  TRY(file_->sync());
  TRY(refcounts_->rebuild(std::move(counts)));
  TRY(set_incompatible_bit(kIncompatDirty, false));
  TRY(file_->sync());
  dirty_on_disk_ = false;
  return Ok();
}

Result<Qcow2Image::RepairReport> Qcow2Image::repair(RepairMode mode) {
  std::lock_guard<std::mutex> lock(mu_);
  wait_for_unlocked_writes();
  TRY(check_request(0, 0, true));
  const bool fix_errors = mode == RepairMode::kAll;
  RepairReport report;
  // As qemu-img: incomplete snapshot entries are reported first and fixed
  // last, once the refcounts the fix allocates with are right.
  std::vector<size_t> incomplete;
  if (header_.version >= 3) {
    incomplete = incomplete_snapshot_entries();
    for (size_t i : incomplete) {
      report.messages.push_back(std::string(fix_errors ? "Repairing" : "ERROR") +
                                " snapshot table entry " + std::to_string(i) + " is incomplete");
    }
  }
  TRY_ASSIGN(std::vector<uint32_t> counts, count_references(true));

  // First pass: report every mismatch (qemu-img prints them before fixing).
  struct Mismatch {
    uint64_t cluster;
    uint64_t stored;
    uint64_t counted;
  };
  std::vector<Mismatch> mismatches;
  bool rebuild = false;
  for (uint64_t c = 0; c < counts.size(); ++c) {
    TRY_ASSIGN(uint64_t stored, refcounts_->get(c));
    if (stored == counts[c]) continue;
    mismatches.push_back({c, stored, counts[c]});
    if (stored == 0) rebuild = true;  // a cluster in use that the allocator thinks free
    report.messages.push_back(std::string(stored < counts[c] ? "ERROR" : "Leaked") + " cluster " +
                              std::to_string(c) + " refcount=" + std::to_string(stored) +
                              " reference=" + std::to_string(counts[c]));
  }

  if (rebuild) {
    // Raising a zero refcount may need a new refcount block, which the
    // allocator could place on a cluster in use: rebuild everything instead.
    if (!fix_errors) {
      report.messages.push_back("ERROR need to rebuild refcount structures");
      return Error(file_->path() + ": the refcount structure needs to be rebuilt (use -r all)");
    }
    report.messages.push_back("Rebuilding refcount structure");
    for (const Mismatch& m : mismatches) {
      ++(m.stored < m.counted ? report.corruptions_fixed : report.leaks_fixed);
    }
    TRY(refcounts_->rebuild_first_fit(counts));
    // The old structure is leaked now: qemu-img frees it with the same
    // lines as other leaks, but does not count them as fixed.
    TRY_ASSIGN(counts, count_references(true));
    mismatches.clear();
    for (uint64_t c = 0; c < counts.size(); ++c) {
      TRY_ASSIGN(uint64_t stored, refcounts_->get(c));
      if (stored == counts[c]) continue;
      if (stored < counts[c]) {
        return Error(file_->path() + ": the rebuilt refcount structure is still broken");
      }
      mismatches.push_back({c, stored, counts[c]});
    }
  }

  // Second pass, fixing: qemu-img reports what it leaves alone once more.
  for (const Mismatch& m : mismatches) {
    bool leak = m.stored > m.counted;
    if (!leak && !fix_errors) {
      report.messages.push_back("ERROR cluster " + std::to_string(m.cluster) +
                                " refcount=" + std::to_string(m.stored) +
                                " reference=" + std::to_string(m.counted));
      continue;
    }
    report.messages.push_back("Repairing cluster " + std::to_string(m.cluster) + " refcount=" +
                              std::to_string(m.stored) + " reference=" + std::to_string(m.counted));
    TRY(refcounts_->update(m.cluster,
                           static_cast<int64_t>(m.counted) - static_cast<int64_t>(m.stored)));
    if (!rebuild) ++(leak ? report.leaks_fixed : report.corruptions_fixed);
  }
  // The counts reach the disk before any table that relies on them.
  if (refcounts_->has_dirty()) {
    TRY(refcounts_->writeback());
    TRY(file_->sync());
  }

  // "copied" flags against the (now fixed) refcounts of the active tables.
  auto refcount_of = [&](uint64_t host) { return refcounts_->get(geometry_.cluster_index(host)); };
  for (uint64_t i = 0; i < l1_.size(); ++i) {
    uint64_t l2_offset = l1_[i] & kL1OffsetMask;
    if (l2_offset == 0) continue;
    TRY_ASSIGN(uint64_t l2_refcount, refcount_of(l2_offset));
    if (((l1_[i] & kOflagCopied) != 0) != (l2_refcount == 1)) {
      report.messages.push_back(std::string(fix_errors ? "Repairing" : "ERROR") +
                                " OFLAG_COPIED L2 cluster: l1_index=" + std::to_string(i) +
                                " l1_entry=" + hex(l1_[i]) +
                                " refcount=" + std::to_string(l2_refcount));
      if (fix_errors) {
        l1_[i] ^= kOflagCopied;
        l1_dirty_sectors_.insert(i / 64);
        ++report.corruptions_fixed;
      }
    }
    for (uint64_t j = 0; j < geometry_.l2_entries(); ++j) {
      TRY_ASSIGN(Qcow2Table * table, l2_cache_->get(l2_offset));
      uint64_t entry = l2_entry(*table, j);
      uint64_t host = entry & kL2OffsetMask;
      // "With external data files, all guest clusters have an implicit
      // refcount of 1 ... so this bit should be 1 for all allocated clusters."
      const bool data_at_zero = data_file_ && (entry & kOflagCopied) != 0;
      if ((entry & kOflagCompressed) != 0 || (host == 0 && !data_at_zero)) continue;
      uint64_t refcount = 1;
      if (!data_file_) {
        TRY_ASSIGN(refcount, refcount_of(host));
      }
      if (((entry & kOflagCopied) != 0) == (refcount == 1)) continue;
      report.messages.push_back(std::string(fix_errors ? "Repairing" : "ERROR") +
                                " OFLAG_COPIED data cluster: l2_entry=" + hex(entry) +
                                " refcount=" + std::to_string(refcount));
      if (fix_errors) {
        TRY_ASSIGN(table, l2_cache_->get(l2_offset));  // refcount_of may evict it
        set_l2_descriptor(*table, j, entry ^ kOflagCopied);
        ++report.corruptions_fixed;
      }
    }
  }
  if (fix_errors && !incomplete.empty()) {
    TRY(flush_locked());
    TRY(complete_snapshot_entries());
    report.corruptions_fixed += incomplete.size();
  }
  TRY(flush_locked());
  return report;
}

}  // namespace vessel::block
