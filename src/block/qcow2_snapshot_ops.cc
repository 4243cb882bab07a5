// Creating, applying and deleting internal snapshots ("== Snapshots ==" in the
// qcow2 spec), the way QEMU does it (block/qcow2-snapshot.c) so that each tool
// can use the other's snapshots. A snapshot is a copy of the active L1 table
// plus one more reference on every cluster that table reaches (its L2 tables,
// their data clusters, the host clusters of compressed clusters). Shared
// clusters lose their "copied" flag, so the write path copies them before it
// changes them.
//
// Ordering: references are added (and made durable) before anything on disk
// points at them, and dropped only after nothing does, so an interrupted
// operation leaves leaked clusters at worst. Refcounts and "copied" flags live
// in different clusters and cannot change together; in a version 3 image the
// dirty bit is set for the whole operation, so an interrupted one is repaired
// (leaks and flags) on the next read-write open, by QEMU as by this code.
// A version 2 image has no dirty bit: a crash in that moment leaves "copied"
// flags that disagree with refcounts until `qemu-img check -r all`, as QEMU's
// own snapshots do.
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <functional>

#include "block/qcow2.h"

namespace vessel::block {

using namespace qcow2;

namespace {

std::string hex(uint64_t value) {
  char buf[24];
  snprintf(buf, sizeof(buf), "0x%llx", static_cast<unsigned long long>(value));
  return buf;
}

std::string describe(const Qcow2Snapshot& s) {
  return "snapshot '" + s.name + "' (ID " + s.id + ")";
}

}  // namespace

class Qcow2SnapshotOps {
 public:
  static Result<std::string> create(Qcow2Image& img, const Qcow2NewSnapshot& params);
  static Result<void> apply(Qcow2Image& img, size_t index);
  static Result<void> remove(Qcow2Image& img, size_t index);
  // The same snapshots in a new table, each entry as QEMU writes it.
  static Result<void> rewrite_table(Qcow2Image& img) {
    return write_table(img, img.snapshots_.snapshots);
  }

 private:
  // A cluster reference of an L1 table's tree: the clusters [offset, offset + length) touches.
  using Visit = std::function<Result<void>(uint64_t offset, uint64_t length)>;

  static Result<std::vector<uint64_t>> read_l1(Qcow2Image& img, const Qcow2Snapshot& s);
  static Result<void> for_each_reference(Qcow2Image& img, const std::vector<uint64_t>& l1,
                                         const std::string& what, const Visit& visit);
  static Result<void> check_tree(Qcow2Image& img, const std::vector<uint64_t>& l1,
                                 const std::string& what);
  static Result<void> add_references(Qcow2Image& img, const std::vector<uint64_t>& l1,
                                     int64_t delta, const std::string& what);
  static Result<void> clear_copied_flags(Qcow2Image& img, const std::vector<uint64_t>& l1);
  static Result<void> update_copied_flags(Qcow2Image& img);
  static Result<void> forget_freed_tables(Qcow2Image& img, const std::vector<uint64_t>& l1);
  static Result<uint64_t> write_l1_copy(Qcow2Image& img, const std::vector<uint64_t>& l1);
  static Result<void> write_table(Qcow2Image& img, std::vector<Qcow2Snapshot> snapshots);
  static Result<bool> begin(Qcow2Image& img);
  static Result<void> finish(Qcow2Image& img, bool marked);
};

Result<std::vector<uint64_t>> Qcow2SnapshotOps::read_l1(Qcow2Image& img, const Qcow2Snapshot& s) {
  // The snapshot reader checked that the table lies inside the file.
  std::vector<uint64_t> l1(s.l1_size);
  if (!l1.empty()) {
    std::vector<uint8_t> raw(l1.size() * 8);
    TRY(img.file_->read(s.l1_table_offset, raw));
    for (uint64_t i = 0; i < l1.size(); ++i) l1[i] = load_be64(&raw[i * 8]);
  }
  return l1;
}

Result<void> Qcow2SnapshotOps::for_each_reference(Qcow2Image& img, const std::vector<uint64_t>& l1,
                                                  const std::string& what, const Visit& visit) {
  const Geometry& g = img.geometry_;
  const uint64_t cs = g.cluster_size();
  const uint64_t file_size = img.file_->size();
  auto bad = [&](const std::string& why) {
    return Error(img.file_->path() + ": corrupt qcow2 image: " + what + ": " + why);
  };
  // An L2 table may be one of the active ones, but no other metadata.
  auto fixed_metadata = [&](uint64_t cluster) {
    return img.refcounts_->is_metadata(cluster) ||
           std::any_of(img.fixed_metadata_.begin(), img.fixed_metadata_.end(),
                       [&](const auto& r) { return cluster >= r.first && cluster < r.second; });
  };
  std::vector<uint64_t> entries(g.l2_entries());
  for (uint64_t i = 0; i < l1.size(); ++i) {
    uint64_t l2_offset = l1[i] & kL1OffsetMask;
    if (l2_offset == 0) continue;
    uint64_t l2_cluster = g.cluster_index(l2_offset);
    if (!g.aligned(l2_offset) || l2_offset >= file_size || fixed_metadata(l2_cluster)) {
      return bad("L1 entry " + std::to_string(i) + " (" + hex(l1[i]) +
                 ") is not a valid L2 table offset");
    }
    TRY(visit(l2_offset, cs));
    TRY_ASSIGN(Qcow2Table * table, img.l2_cache_->get(l2_offset));
    for (uint64_t j = 0; j < entries.size(); ++j) entries[j] = img.l2_entry(*table, j);
    for (uint64_t j = 0; j < entries.size(); ++j) {
      uint64_t entry = entries[j];
      auto bad_entry = [&](const char* why) {
        return bad("L2 entry " + hex(entry) + " of the table at " + hex(l2_offset) + " " + why);
      };
      if ((entry & kOflagCompressed) != 0) {
        CompressedExtent e = compressed_extent(g, entry);
        if (e.offset < cs || e.offset >= file_size) {
          return bad_entry("points to compressed data outside the file");
        }
        uint64_t last = g.cluster_index(std::min(e.offset + e.length, file_size) - 1);
        for (uint64_t c = g.cluster_index(e.offset); c <= last; ++c) {
          if (img.is_metadata_cluster(c)) return bad_entry("points to compressed data in metadata");
        }
        TRY(visit(e.offset, e.length));
        continue;
      }
      uint64_t host = entry & kL2OffsetMask;
      if (host == 0) continue;
      if (!g.aligned(host) || host >= file_size || img.is_metadata_cluster(g.cluster_index(host))) {
        return bad_entry("does not point to a data cluster");
      }
      TRY(visit(host, cs));
    }
  }
  return Ok();
}

Result<void> Qcow2SnapshotOps::check_tree(Qcow2Image& img, const std::vector<uint64_t>& l1,
                                          const std::string& what) {
  return for_each_reference(img, l1, what, [](uint64_t, uint64_t) -> Result<void> { return Ok(); });
}

Result<void> Qcow2SnapshotOps::add_references(Qcow2Image& img, const std::vector<uint64_t>& l1,
                                              int64_t delta, const std::string& what) {
  const Geometry& g = img.geometry_;
  uint64_t done = 0;
  auto result =
      for_each_reference(img, l1, what, [&](uint64_t offset, uint64_t length) -> Result<void> {
        for (uint64_t c = g.cluster_index(offset); c <= g.cluster_index(offset + length - 1); ++c) {
          TRY(img.refcounts_->update(c, delta));
          ++done;
        }
        return Ok();
      });
  if (result.ok() || delta < 0) return result;
  // An increase that failed part way (a refcount at the limit of its width,
  // a bad entry) is undone, so the image is as it was.
  uint64_t undo = done;
  (void)for_each_reference(img, l1, what, [&](uint64_t offset, uint64_t length) -> Result<void> {
    for (uint64_t c = g.cluster_index(offset); c <= g.cluster_index(offset + length - 1); ++c) {
      if (undo == 0) return Error("undone");
      TRY(img.refcounts_->update(c, -delta));
      --undo;
    }
    return Ok();
  });
  return result;
}

Result<void> Qcow2SnapshotOps::clear_copied_flags(Qcow2Image& img,
                                                  const std::vector<uint64_t>& l1) {
  for (uint64_t l1_entry : l1) {
    uint64_t l2_offset = l1_entry & kL1OffsetMask;
    if (l2_offset == 0) continue;
    TRY_ASSIGN(Qcow2Table * table, img.l2_cache_->get(l2_offset));
    for (uint64_t j = 0; j < img.geometry_.l2_entries(); ++j) {
      uint64_t entry = img.l2_entry(*table, j);
      if ((entry & kOflagCopied) != 0) img.set_l2_descriptor(*table, j, entry & ~kOflagCopied);
    }
  }
  return Ok();
}

Result<void> Qcow2SnapshotOps::update_copied_flags(Qcow2Image& img) {
  // "copied": the refcount is exactly one, so the cluster may change in place.
  const Geometry& g = img.geometry_;
  for (uint64_t i = 0; i < img.l1_.size(); ++i) {
    uint64_t l2_offset = img.l1_[i] & kL1OffsetMask;
    if (l2_offset == 0) continue;
    TRY_ASSIGN(uint64_t count, img.refcounts_->get(g.cluster_index(l2_offset)));
    uint64_t want = count == 1 ? (img.l1_[i] | kOflagCopied) : (img.l1_[i] & ~kOflagCopied);
    if (want != img.l1_[i]) {
      img.l1_[i] = want;
      img.l1_dirty_sectors_.insert(i / 64);
    }
    TRY_ASSIGN(Qcow2Table * table, img.l2_cache_->get(l2_offset));
    for (uint64_t j = 0; j < g.l2_entries(); ++j) {
      uint64_t entry = img.l2_entry(*table, j);
      uint64_t host = entry & kL2OffsetMask;
      if ((entry & kOflagCompressed) != 0 || host == 0) continue;
      TRY_ASSIGN(uint64_t refs, img.refcounts_->get(g.cluster_index(host)));
      uint64_t fixed = refs == 1 ? (entry | kOflagCopied) : (entry & ~kOflagCopied);
      if (fixed != entry) img.set_l2_descriptor(*table, j, fixed);
    }
  }
  return Ok();
}

Result<void> Qcow2SnapshotOps::forget_freed_tables(Qcow2Image& img,
                                                   const std::vector<uint64_t>& l1) {
  for (uint64_t l1_entry : l1) {
    uint64_t l2_offset = l1_entry & kL1OffsetMask;
    if (l2_offset == 0) continue;
    TRY_ASSIGN(uint64_t count, img.refcounts_->get(img.geometry_.cluster_index(l2_offset)));
    if (count == 0) img.l2_cache_->drop(l2_offset);
  }
  return Ok();
}

Result<uint64_t> Qcow2SnapshotOps::write_l1_copy(Qcow2Image& img, const std::vector<uint64_t>& l1) {
  // An empty table takes no space (and QEMU counts none for it).
  if (l1.empty()) return uint64_t{0};
  // "copied" means nothing outside the active table; it is left clear.
  std::vector<uint8_t> raw(l1.size() * 8);
  for (uint64_t i = 0; i < l1.size(); ++i) store_be64(&raw[i * 8], l1[i] & ~kOflagCopied);
  TRY_ASSIGN(auto alloc,
             img.refcounts_->allocate(div_round_up(raw.size(), img.geometry_.cluster_size())));
  auto written = img.file_->write(alloc.offset, raw);
  if (!written.ok()) {
    (void)img.refcounts_->release(alloc.offset, raw.size());
    return written.error();
  }
  img.unsynced_ = true;
  return alloc.offset;
}

Result<void> Qcow2SnapshotOps::write_table(Qcow2Image& img, std::vector<Qcow2Snapshot> snapshots) {
  auto encoded = encode_qcow2_snapshots(snapshots);
  if (!encoded) return Error(img.file_->path() + ": " + encoded.error().message());
  const std::vector<uint8_t>& bytes = *encoded;
  // QEMU writes an empty table as offset 0.
  uint64_t offset = 0;
  if (!bytes.empty()) {
    TRY_ASSIGN(auto alloc,
               img.refcounts_->allocate(div_round_up(bytes.size(), img.geometry_.cluster_size())));
    offset = alloc.offset;
    TRY(img.file_->write(offset, bytes));
  }
  // The new table, and the references it holds, durable before the header
  // points at it.
  TRY(img.settle_refcounts());
  TRY(img.file_->sync());
  img.unsynced_ = false;
  // nb_snapshots and snapshots_offset are adjacent: one write switches both.
  uint8_t fields[12];
  store_be32(fields, static_cast<uint32_t>(snapshots.size()));
  store_be64(fields + 4, offset);
  TRY(img.file_->write(field::kNbSnapshots, fields));
  TRY(img.file_->sync());
  uint64_t old_offset = img.header_.snapshots_offset;
  uint64_t old_bytes = img.snapshots_.table_bytes;
  img.header_.nb_snapshots = static_cast<uint32_t>(snapshots.size());
  img.header_.snapshots_offset = offset;
  img.info_.snapshot_count = img.header_.nb_snapshots;
  for (Qcow2Snapshot& s : snapshots) {
    s.extra_data_size = kSnapshotKnownExtraData + static_cast<uint32_t>(s.unknown_extra.size());
  }
  img.snapshots_.snapshots = std::move(snapshots);
  img.snapshots_.table_bytes = bytes.size();
  img.index_metadata();
  return img.refcounts_->release(old_offset, old_bytes);
}

Result<bool> Qcow2SnapshotOps::begin(Qcow2Image& img) {
  TRY(img.flush_locked());
  if (img.header_.version < 3 || img.dirty_on_disk_) return false;
  // "Dirty bit: refcounts may be inconsistent": whoever opens the image after
  // an interrupted operation rebuilds them.
  TRY(img.set_incompatible_bit(kIncompatDirty, true));
  TRY(img.file_->sync());
  img.dirty_on_disk_ = true;
  return true;
}

Result<void> Qcow2SnapshotOps::finish(Qcow2Image& img, bool marked) {
  TRY(img.flush_locked());
  // Freed clusters may be where compressed data would have gone next, and
  // the decompressed cluster may belong to a freed entry.
  img.compressed_tail_ = 0;
  img.decompressed_.clear();
  if (img.lazy_refcounts_) return Ok();  // counts and dirty bit are settled on close
  if (img.refcounts_->has_dirty()) {
    TRY(img.refcounts_->writeback());
    img.unsynced_ = true;
  }
  TRY(img.sync_if_needed());
  if (marked) {
    TRY(img.set_incompatible_bit(kIncompatDirty, false));
    TRY(img.file_->sync());
    img.dirty_on_disk_ = false;
  }
  return Ok();
}

Result<std::string> Qcow2SnapshotOps::create(Qcow2Image& img, const Qcow2NewSnapshot& params) {
  const std::string& path = img.file_->path();
  std::vector<Qcow2Snapshot> list = img.snapshots_.snapshots;
  if (list.size() >= kMaxSnapshots) {
    return Error(path + ": the image already has the maximum of " + std::to_string(kMaxSnapshots) +
                 " snapshots");
  }
  // QEMU's find_new_snapshot_id(): the largest ID read as a number, plus one.
  unsigned long max_id = 0;
  for (const Qcow2Snapshot& s : list)
    max_id = std::max(max_id, std::strtoul(s.id.c_str(), nullptr, 10));
  Qcow2Snapshot snap;
  snap.id = std::to_string(max_id + 1);
  snap.name = params.name;
  timespec now{};
  clock_gettime(CLOCK_REALTIME, &now);
  // QEMU dates snapshots to the microsecond.
  snap.date_sec = static_cast<uint32_t>(now.tv_sec);
  snap.date_nsec = static_cast<uint32_t>(now.tv_nsec / 1000 * 1000);
  snap.vm_clock_nsec = params.vm_clock_nsec;
  snap.vm_state_size = params.vm_state_size;
  snap.disk_size = img.info_.size;
  snap.icount = params.icount;
  snap.l1_size = static_cast<uint32_t>(img.l1_.size());
  list.push_back(snap);
  // Fails early when the table would be too large.
  if (auto encoded = encode_qcow2_snapshots(list); !encoded) {
    return Error(path + ": " + encoded.error().message());
  }

  TRY_ASSIGN(bool marked, begin(img));
  auto abandon = [&](const Error& e) -> Error {
    (void)finish(img, marked);
    return e;
  };
  auto l1_offset = write_l1_copy(img, img.l1_);
  if (!l1_offset) return abandon(l1_offset.error());
  list.back().l1_table_offset = *l1_offset;
  auto added = add_references(img, img.l1_, 1, "the active L1 table");
  if (!added.ok()) {
    (void)img.refcounts_->release(*l1_offset, img.l1_.size() * 8);
    return abandon(
        Error(path + ": cannot create snapshot '" + snap.name + "': " + added.error().message()));
  }
  // Everything the active tables map is now shared with the snapshot.
  for (uint64_t i = 0; i < img.l1_.size(); ++i) {
    if ((img.l1_[i] & kOflagCopied) != 0) {
      img.l1_[i] &= ~kOflagCopied;
      img.l1_dirty_sectors_.insert(i / 64);
    }
  }
  TRY(clear_copied_flags(img, img.l1_));
  // Flags and counts on disk before the snapshot table names the copy.
  TRY(img.flush_locked());
  TRY(write_table(img, std::move(list)));
  TRY(finish(img, marked));
  return snap.id;
}

Result<void> Qcow2SnapshotOps::apply(Qcow2Image& img, size_t index) {
  const std::string& path = img.file_->path();
  const Geometry& g = img.geometry_;
  if (index >= img.snapshots_.snapshots.size()) return Error(path + ": no such snapshot");
  const Qcow2Snapshot snap = img.snapshots_.snapshots[index];
  const std::string what = describe(snap);
  // The active table must cover the snapshot's disk size and hold its table.
  uint64_t needed = div_round_up(snap.disk_size, g.l1_entry_span());
  if (needed * 8 > kMaxL1Bytes || snap.disk_size % 512 != 0) {
    return Error(path + ": corrupt qcow2 image: " + what + " has an invalid disk size of " +
                 std::to_string(snap.disk_size) + " bytes");
  }
  TRY_ASSIGN(std::vector<uint64_t> snap_l1, read_l1(img, snap));
  std::vector<uint64_t> l1(std::max<uint64_t>(needed, snap_l1.size()), 0);
  for (uint64_t i = 0; i < snap_l1.size(); ++i) l1[i] = snap_l1[i] & ~kOflagCopied;

  TRY_ASSIGN(bool marked, begin(img));
  auto abandon = [&](const Error& e) -> Error {
    (void)finish(img, marked);
    return e;
  };
  // Both trees are checked before anything changes: the old one loses its
  // references at the end, when failing would be too late.
  if (auto r = check_tree(img, img.l1_, "the active L1 table"); !r.ok()) return abandon(r.error());
  if (auto r = add_references(img, snap_l1, 1, what); !r.ok()) {
    return abandon(Error(path + ": cannot apply " + what + ": " + r.error().message()));
  }
  // Copies of the snapshot's tables may still carry flags from when they
  // were active; now they are shared.
  TRY(clear_copied_flags(img, snap_l1));
  TRY_ASSIGN(uint64_t l1_offset, write_l1_copy(img, l1));
  TRY(img.flush_locked());
  TRY(img.settle_refcounts());
  TRY(img.file_->sync());
  img.unsynced_ = false;

  // The new active table and the disk size in one write: size, crypt_method,
  // l1_size, l1_table_offset are adjacent in the first sector.
  uint8_t fields[24];
  store_be64(fields, snap.disk_size);
  store_be32(fields + 8, img.header_.crypt_method);
  store_be32(fields + 12, static_cast<uint32_t>(l1.size()));
  store_be64(fields + 16, l1_offset);
  TRY(img.file_->write(field::kSize, fields));
  TRY(img.file_->sync());

  std::vector<uint64_t> old_l1 = std::move(img.l1_);
  uint64_t old_l1_offset = img.header_.l1_table_offset;
  img.l1_ = std::move(l1);
  img.l1_dirty_sectors_.clear();
  img.header_.size = snap.disk_size;
  img.header_.l1_size = static_cast<uint32_t>(img.l1_.size());
  img.header_.l1_table_offset = l1_offset;
  img.info_.size = snap.disk_size;
  img.index_metadata();

  // Nothing on disk refers to the old state any more.
  TRY(add_references(img, old_l1, -1, "the previous active L1 table"));
  TRY(img.refcounts_->release(old_l1_offset, old_l1.size() * 8));
  TRY(forget_freed_tables(img, old_l1));
  TRY(update_copied_flags(img));
  return finish(img, marked);
}

Result<void> Qcow2SnapshotOps::remove(Qcow2Image& img, size_t index) {
  const std::string& path = img.file_->path();
  if (index >= img.snapshots_.snapshots.size()) return Error(path + ": no such snapshot");
  const Qcow2Snapshot snap = img.snapshots_.snapshots[index];
  TRY_ASSIGN(std::vector<uint64_t> l1, read_l1(img, snap));
  std::vector<Qcow2Snapshot> list = img.snapshots_.snapshots;
  list.erase(list.begin() + static_cast<ptrdiff_t>(index));

  TRY_ASSIGN(bool marked, begin(img));
  if (auto r = check_tree(img, l1, describe(snap)); !r.ok()) {
    (void)finish(img, marked);
    return r.error();
  }
  TRY(write_table(img, std::move(list)));
  // The snapshot is gone from disk; its clusters can go too.
  TRY(add_references(img, l1, -1, describe(snap)));
  TRY(img.refcounts_->release(snap.l1_table_offset, l1.size() * 8));
  TRY(forget_freed_tables(img, l1));
  TRY(update_copied_flags(img));
  return finish(img, marked);
}

Result<size_t> Qcow2Image::find_snapshot(std::string_view id_or_name) const {
  const auto& list = snapshots_.snapshots;
  for (size_t i = 0; i < list.size(); ++i) {
    if (list[i].id == id_or_name) return i;
  }
  for (size_t i = 0; i < list.size(); ++i) {
    if (list[i].name == id_or_name) return i;
  }
  return Error(file_->path() + ": snapshot '" + std::string(id_or_name) + "' not found");
}

Result<std::string> Qcow2Image::create_snapshot(std::string_view name) {
  Qcow2NewSnapshot snapshot;
  snapshot.name = std::string(name);
  return create_snapshot(snapshot);
}

Result<std::string> Qcow2Image::create_snapshot(const Qcow2NewSnapshot& snapshot) {
  std::lock_guard<std::mutex> lock(mu_);
  wait_for_unlocked_writes();
  TRY(check_request(0, 0, true));
  // "neither compressed clusters nor internal snapshots are supported"
  TRY(check_no_external_data("internal snapshots are"));
  return Qcow2SnapshotOps::create(*this, snapshot);
}

Result<void> Qcow2Image::apply_snapshot(size_t index) {
  std::lock_guard<std::mutex> lock(mu_);
  wait_for_unlocked_writes();
  TRY(check_request(0, 0, true));
  // As QEMU (bdrv_snapshot_goto): the whole disk would change under the
  // bitmaps, which would then say nothing useful.
  if (!bitmaps_.empty() && index < snapshots_.snapshots.size()) {
    return Error(file_->path() + ": Could not apply snapshot '" + snapshots_.snapshots[index].name +
                 "': Device has active dirty bitmaps");
  }
  return Qcow2SnapshotOps::apply(*this, index);
}

std::vector<size_t> Qcow2Image::incomplete_snapshot_entries() const {
  std::vector<size_t> short_entries;
  for (size_t i = 0; i < snapshots_.snapshots.size(); ++i) {
    if (snapshots_.snapshots[i].extra_data_size < kSnapshotV3MinExtraData) {
      short_entries.push_back(i);
    }
  }
  return short_entries;
}

Result<void> Qcow2Image::complete_snapshot_entries() {
  if (incomplete_snapshot_entries().empty()) return Ok();
  return Qcow2SnapshotOps::rewrite_table(*this);
}

Result<void> Qcow2Image::delete_snapshot(size_t index) {
  std::lock_guard<std::mutex> lock(mu_);
  wait_for_unlocked_writes();
  TRY(check_request(0, 0, true));
  return Qcow2SnapshotOps::remove(*this, index);
}

}  // namespace vessel::block
