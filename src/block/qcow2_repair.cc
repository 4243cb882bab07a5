// Refcount repair for images left with the dirty bit set ("Dirty bit ... make
// sure to scan L1/L2 tables to repair refcounts before accessing the image"):
// count every reference from the header, the L1 tables (active and
// snapshots), the L2 tables and the snapshot table, then write a fresh
// refcount structure and fix the "copied" flags of the active tables.
#include <algorithm>

#include "block/qcow2.h"

namespace vessel::block {

using namespace qcow2;

namespace {

// Counting needs 4 bytes per host cluster; past this (256 MiB of counts) the
// image is too big to repair in memory here.
constexpr uint64_t kMaxRepairClusters = uint64_t{1} << 26;

}  // namespace

Result<void> Qcow2Image::repair_refcounts() {
  const std::string& path = file_->path();
  const uint64_t cs = geometry_.cluster_size();
  if (header_.has_bitmaps_extension) {
    return Error(path +
                 ": the image was not closed cleanly and has persistent bitmaps; repairing "
                 "such images is not supported yet");
  }
  uint64_t file_clusters = div_round_up(file_->size(), cs);
  if (file_clusters > kMaxRepairClusters) {
    return Error(path + ": the image was not closed cleanly and is too large to repair here");
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
      std::vector<uint64_t> entries(geometry_.l2_entries());
      for (uint64_t j = 0; j < entries.size(); ++j) entries[j] = table->entry(j);
      for (uint64_t j = 0; j < entries.size(); ++j) {
        uint64_t guest = (i * geometry_.l2_entries() + j) << geometry_.cluster_bits;
        TRY_ASSIGN(Mapping m, classify(entries[j], guest, false));
        if (m.kind == ClusterKind::kCompressed) {
          CompressedExtent e = compressed_extent(geometry_, m.entry);
          TRY(count(e.offset, e.length, "compressed data"));
        } else if (m.host != 0) {
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
      uint64_t entry = table->entry(j);
      if ((entry & kOflagCompressed) != 0) continue;
      uint64_t host = entry & kL2OffsetMask;
      if (host == 0) continue;
      bool owned = counts[geometry_.cluster_index(host)] == 1;
      uint64_t fixed = owned ? (entry | kOflagCopied) : (entry & ~kOflagCopied);
      if (fixed != entry) table->set_entry(j, fixed);
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

}  // namespace vessel::block
