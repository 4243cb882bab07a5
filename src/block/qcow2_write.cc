// Writing to a qcow2 image: cluster allocation with copy-on-write, zero
// clusters, and the ordering that keeps the image consistent on disk:
//
//   1. data goes to its (new) cluster;
//   2. refcount blocks that count the new clusters are written, then fdatasync;
//   3. L2 tables that map them are written (L2 cache hook runs 2 first);
//   4. fdatasync, then the L1 entries of new L2 tables, then fdatasync;
//   5. only now are clusters that lost their last reference released.
//
// A crash between any two steps leaves clusters counted but unreferenced
// (leaks), never a reference to an uncounted or half-written cluster. With
// lazy refcounts step 2 becomes "set the header's dirty bit" (settle_refcounts)
// and the counts are written on close; after a crash the next read-write
// open rebuilds them.
#include <algorithm>

#include "block/qcow2.h"

namespace vessel::block {

using namespace qcow2;

namespace {

// Released clusters wait for a flush; past this many the flush is forced.
constexpr size_t kMaxPendingReleases = 4096;

}  // namespace

Result<void> Qcow2Image::set_incompatible_bit(uint64_t bit, bool on) {
  uint64_t features =
      on ? header_.incompatible_features | bit : header_.incompatible_features & ~bit;
  uint8_t raw[8];
  store_be64(raw, features);
  TRY(file_->write(field::kIncompatibleFeatures, raw));
  header_.incompatible_features = features;
  return Ok();
}

Result<void> Qcow2Image::settle_refcounts() {
  if (!refcounts_->has_dirty()) return Ok();
  if (!lazy_refcounts_) {
    TRY(refcounts_->writeback());
    unsynced_ = true;
    return Ok();
  }
  if (dirty_on_disk_) return Ok();
  // "Lazy refcounts ... This means marking the image file dirty and
  // postponing refcount metadata updates."
  TRY(set_incompatible_bit(kIncompatDirty, true));
  TRY(file_->sync());
  dirty_on_disk_ = true;
  return Ok();
}

Result<void> Qcow2Image::sync_if_needed() {
  if (!unsynced_) return Ok();
  // Guest data first: the metadata written after this sync refers to it.
  if (data_file_) TRY(data_file_->sync());
  TRY(file_->sync());
  unsynced_ = false;
  return Ok();
}

void Qcow2Image::release_later(const Mapping& m) {
  if (m.kind == ClusterKind::kCompressed) {
    // Each compressed cluster holds one reference on every host cluster its
    // sectors touch.
    CompressedExtent e = compressed_extent(geometry_, m.entry);
    pending_releases_.push_back({e.offset, e.length, false});
  } else if (m.has_host && !data_file_) {
    // (Clusters of an external data file are not refcounted.)
    pending_releases_.push_back({m.host, geometry_.cluster_size(), false});
  }
}

Result<Qcow2Table*> Qcow2Image::l2_table_for_write(uint64_t l1_index) {
  uint64_t entry = l1_[l1_index];
  uint64_t old = entry & kL1OffsetMask;
  // "63: ... 1 if its refcount is exactly one": the table is ours to change.
  if (old != 0 && (entry & kOflagCopied) != 0) return l2_cache_->get(old);
  TRY_ASSIGN(auto alloc, refcounts_->allocate(1));
  std::vector<uint8_t> initial;
  if (old != 0) {
    // Shared with a snapshot: copy it. The clusters it maps keep their
    // counts; only the table itself changes hands.
    TRY_ASSIGN(Qcow2Table * shared, l2_cache_->get(old));
    initial = shared->bytes;
    pending_releases_.push_back({old, geometry_.cluster_size(), true});
  }
  TRY_ASSIGN(Qcow2Table * table, l2_cache_->create(alloc.offset, initial));
  l2_clusters_.insert(geometry_.cluster_index(alloc.offset));
  l1_[l1_index] = alloc.offset | kOflagCopied;
  l1_dirty_sectors_.insert(l1_index / 64);
  return table;
}

Result<void> Qcow2Image::write_chunk(uint64_t guest_offset, std::span<const uint8_t> data) {
  if (geometry_.extended_l2) return write_subclusters(guest_offset, data);
  const uint64_t cs = geometry_.cluster_size();
  const uint64_t cluster = geometry_.cluster_index(guest_offset);
  const uint64_t cluster_start = cluster << geometry_.cluster_bits;
  const uint64_t in_cluster = guest_offset - cluster_start;
  const uint64_t l1_index = cluster / geometry_.l2_entries();
  const uint64_t l2_index = cluster % geometry_.l2_entries();

  // Fast path: a cluster of our own, written in place.
  TRY_ASSIGN(Mapping m, lookup(guest_offset));
  bool owned = (m.entry & kOflagCopied) != 0;
  if (m.kind == ClusterKind::kNormal && owned && (l1_[l1_index] & kOflagCopied) != 0) {
    TRY(guest_data().write(m.host + in_cluster, data));
    unsynced_ = true;
    return Ok();
  }

  TRY_ASSIGN(Qcow2Table * table, l2_table_for_write(l1_index));
  const uint64_t l2_offset = table->offset;
  // The table may be a fresh copy: classify its entry again.
  TRY_ASSIGN(m, classify(l2_entry(*table, l2_index), guest_offset, true));
  owned = (m.entry & kOflagCopied) != 0;
  if (m.kind == ClusterKind::kNormal && owned) {
    TRY(guest_data().write(m.host + in_cluster, data));
    unsynced_ = true;
    return Ok();
  }

  uint64_t target;
  bool fresh = false;
  if (m.kind == ClusterKind::kZero && m.has_host && owned) {
    // A preallocated zero cluster: fill it, then drop the zero flag.
    target = m.host;
  } else {
    TRY_ASSIGN(DataCluster alloc, allocate_data(cluster_start, 1));
    target = alloc.offset;
    fresh = alloc.fresh;
  }

  if (data.size() == cs) {
    TRY(guest_data().write(target, data));
  } else {
    // Copy-on-write: the rest of the cluster keeps what the guest saw.
    bool reads_zero =
        m.kind == ClusterKind::kZero ||
        (m.kind == ClusterKind::kUnallocated && (!backing_ || cluster_start >= backing_size_));
    if (reads_zero && fresh) {
      // With O_DIRECT, file systems (ext4, XFS) serialize the writes that
      // allocate blocks: give the whole cluster its blocks now, as qemu does
      // (handle_alloc_space's write_zeroes), so that the guest's later
      // writes into the rest of it are plain overwrites that run together.
      if (guest_data().direct()) TRY(guest_data().zero_range(target, cs, false));
      TRY(guest_data().write(target + in_cluster, data));  // the new cluster reads as zeros already
    } else {
      std::vector<uint8_t> buffer(cs);
      TRY(read_cluster_contents(cluster_start, m, buffer));
      std::copy(data.begin(), data.end(), buffer.begin() + static_cast<ptrdiff_t>(in_cluster));
      TRY(guest_data().write(target, buffer));
    }
  }
  unsynced_ = true;

  TRY_ASSIGN(table, l2_cache_->get(l2_offset));
  set_l2(*table, l2_index, target | kOflagCopied, 0);
  if (target != m.host) release_later(m);
  return Ok();
}

Result<void> Qcow2Image::zero_cluster(uint64_t guest_offset, ZeroMode mode) {
  const uint64_t cluster = geometry_.cluster_index(guest_offset);
  const uint64_t l1_index = cluster / geometry_.l2_entries();
  const uint64_t l2_index = cluster % geometry_.l2_entries();
  const bool backing_covers = backing_ && guest_offset < backing_size_;

  if (geometry_.extended_l2) return zero_cluster_subclusters(guest_offset, mode);
  TRY_ASSIGN(Mapping m, lookup(guest_offset));
  if (m.kind == ClusterKind::kUnallocated && !backing_covers) return Ok();  // reads as zeros
  if (m.kind == ClusterKind::kZero && (mode == ZeroMode::kKeepAllocation || !m.has_host)) {
    return Ok();
  }
  if (header_.version < 3) {
    // No zero flag: an unmapped cluster reads zeros only without a backing file.
    if (mode == ZeroMode::kDeallocate && !backing_covers) return deallocate_cluster(guest_offset);
    std::vector<uint8_t> zeros(geometry_.cluster_size(), 0);
    uint64_t length = std::min<uint64_t>(zeros.size(), info_.size - guest_offset);
    return write_chunk(guest_offset, std::span<const uint8_t>(zeros).first(length));
  }

  TRY_ASSIGN(Qcow2Table * table, l2_table_for_write(l1_index));
  TRY_ASSIGN(m, classify(l2_entry(*table, l2_index), guest_offset, true));
  bool owned = (m.entry & kOflagCopied) != 0;
  uint64_t entry;
  if (mode == ZeroMode::kKeepAllocation && m.has_host && owned) {
    // "The host cluster offset can be used to describe a preallocation".
    entry = m.host | kOflagCopied | kOflagZero;
  } else {
    entry = (mode == ZeroMode::kDeallocate && !backing_covers) ? 0 : kOflagZero;
    release_later(m);
  }
  set_l2(*table, l2_index, entry, 0);
  return Ok();
}

Result<void> Qcow2Image::write(uint64_t offset, std::span<const uint8_t> data) {
  std::unique_lock<std::mutex> lock(mu_);
  TRY(check_request(offset, data.size(), true));
  TRY(record_write(offset, data.size()));
  TRY_ASSIGN(uint64_t host, in_place_target(offset, data.size()));
  if (host != 0) return write_in_place(host, data, lock);
  return write_locked(offset, data);
}

Result<uint64_t> Qcow2Image::in_place_target(uint64_t offset, uint64_t length) {
  const uint64_t cs = geometry_.cluster_size();
  const uint64_t in_cluster = offset & (cs - 1);
  if (geometry_.extended_l2 || length == 0 || length > cs - in_cluster) return uint64_t{0};
  const uint64_t l1_index = geometry_.cluster_index(offset) / geometry_.l2_entries();
  if (l1_index >= l1_.size() || (l1_[l1_index] & kOflagCopied) == 0) return uint64_t{0};
  TRY_ASSIGN(Mapping m, lookup(offset));
  // (A cluster at host offset 0 of an external data file takes the locked way.)
  if (m.kind != ClusterKind::kNormal || (m.entry & kOflagCopied) == 0 || m.host == 0) {
    return uint64_t{0};
  }
  return m.host + in_cluster;
}

Result<void> Qcow2Image::write_in_place(uint64_t host, std::span<const uint8_t> data,
                                        std::unique_lock<std::mutex>& lock) {
  ++unlocked_writes_;
  lock.unlock();
  auto written = guest_data().write(host, data);
  lock.lock();
  // Set after the write, so that a flush that ran meanwhile (and cleared it)
  // does not leave this write out of the next one.
  unsynced_ = true;
  if (--unlocked_writes_ == 0) unlocked_writes_done_.notify_all();
  return written;
}

void Qcow2Image::wait_for_unlocked_writes() {
  unlocked_writes_done_.wait(mu_, [this] { return unlocked_writes_ == 0; });
}

Result<void> Qcow2Image::write_locked(uint64_t offset, std::span<const uint8_t> data) {
  const uint64_t cs = geometry_.cluster_size();
  uint64_t done = 0;
  while (done < data.size()) {
    uint64_t pos = offset + done;
    TRY_ASSIGN(uint64_t run, write_new_run(pos, data.subspan(done)));
    if (run != 0) {
      done += run;
      continue;
    }
    uint64_t chunk = std::min<uint64_t>(data.size() - done, cs - (pos & (cs - 1)));
    TRY(write_chunk(pos, data.subspan(done, chunk)));
    done += chunk;
  }
  if (pending_releases_.size() > kMaxPendingReleases && unlocked_writes_ == 0) {
    TRY(flush_locked());
  }
  return Ok();
}

Result<void> Qcow2Image::deallocate_cluster(uint64_t guest_offset) {
  const uint64_t cluster = geometry_.cluster_index(guest_offset);
  const uint64_t l1_index = cluster / geometry_.l2_entries();
  const uint64_t l2_index = cluster % geometry_.l2_entries();
  TRY_ASSIGN(Mapping m, lookup(guest_offset));
  if (m.kind == ClusterKind::kUnallocated) return Ok();
  TRY_ASSIGN(Qcow2Table * table, l2_table_for_write(l1_index));
  TRY_ASSIGN(m, classify(l2_entry(*table, l2_index), guest_offset, true));
  set_l2(*table, l2_index, 0, 0);
  release_later(m);
  return Ok();
}

Result<void> Qcow2Image::discard(uint64_t offset, uint64_t length) {
  std::lock_guard<std::mutex> lock(mu_);
  TRY(check_request(offset, length, true));
  TRY(record_write(offset, length));
  const uint64_t cs = geometry_.cluster_size();
  const uint64_t end = offset + length;
  // Partial clusters keep their data; the disk's last cluster may be short.
  const uint64_t last = end == info_.size ? end : end & ~(cs - 1);
  const uint64_t first = (offset + cs - 1) & ~(cs - 1);
  if (first < last) TRY(zero_raw_data(first, last - first));
  for (uint64_t pos = first; pos < last; pos += cs) {
    if (geometry_.extended_l2) {
      TRY(discard_cluster_subclusters(pos));
    } else if (header_.version >= 3) {
      TRY(zero_cluster(pos, ZeroMode::kDeallocate));
    } else {
      TRY(deallocate_cluster(pos));
    }
  }
  if (pending_releases_.size() > kMaxPendingReleases && unlocked_writes_ == 0) {
    TRY(flush_locked());
  }
  return Ok();
}

Result<void> Qcow2Image::write_zeroes(uint64_t offset, uint64_t length, ZeroMode mode) {
  std::lock_guard<std::mutex> lock(mu_);
  TRY(check_request(offset, length, true));
  TRY(record_write(offset, length));
  return write_zeroes_locked(offset, length, mode);
}

Result<void> Qcow2Image::write_zeroes_locked(uint64_t offset, uint64_t length, ZeroMode mode) {
  // (QEMU zeroes a raw data file first too, qcow2_subcluster_zeroize.)
  TRY(zero_raw_data(offset, length));
  if (geometry_.extended_l2) {
    TRY(write_zeroes_subclusters(offset, length, mode));
    if (pending_releases_.size() > kMaxPendingReleases && unlocked_writes_ == 0) {
      TRY(flush_locked());
    }
    return Ok();
  }
  const uint64_t cs = geometry_.cluster_size();
  std::vector<uint8_t> zeros;
  uint64_t done = 0;
  while (done < length) {
    uint64_t pos = offset + done;
    uint64_t in_cluster = pos & (cs - 1);
    uint64_t chunk = std::min<uint64_t>(length - done, cs - in_cluster);
    // The last cluster of a disk whose size is not a multiple of the cluster
    // size counts as whole when the request reaches the end of the disk.
    bool whole = in_cluster == 0 && (chunk == cs || pos + chunk == info_.size);
    if (whole) {
      TRY(zero_cluster(pos, mode));
    } else {
      TRY_ASSIGN(Mapping m, lookup(pos));
      bool reads_zero = m.kind == ClusterKind::kZero || (m.kind == ClusterKind::kUnallocated &&
                                                         (!backing_ || pos >= backing_size_));
      if (!reads_zero) {
        zeros.assign(chunk, 0);
        TRY(write_chunk(pos, zeros));
      }
    }
    done += chunk;
  }
  if (pending_releases_.size() > kMaxPendingReleases && unlocked_writes_ == 0) {
    TRY(flush_locked());
  }
  return Ok();
}

Result<void> Qcow2Image::write_l1() {
  for (uint64_t sector : l1_dirty_sectors_) {
    uint64_t first = sector * 64;
    uint64_t count = std::min<uint64_t>(64, l1_.size() - first);
    uint8_t raw[512];
    for (uint64_t i = 0; i < count; ++i) store_be64(raw + i * 8, l1_[first + i]);
    TRY(file_->write(header_.l1_table_offset + first * 8,
                     std::span<const uint8_t>(raw, count * 8)));
  }
  l1_dirty_sectors_.clear();
  return Ok();
}

Result<void> Qcow2Image::flush_locked() {
  if (file_->read_only()) return Ok();
  // Steps 2 and 3 (the cache hook orders them).
  TRY(l2_cache_->writeback());
  // Step 4.
  if (!l1_dirty_sectors_.empty()) {
    TRY(settle_refcounts());
    unsynced_ = true;  // the L2 tables just written
    TRY(sync_if_needed());
    TRY(write_l1());
    unsynced_ = true;
  }
  TRY(sync_if_needed());
  // Step 5: nothing on disk refers to these clusters any more. (Nor will a
  // write still running without mu_ land in one after it was handed out
  // again: with such writes the releases wait for a later flush.)
  if (!pending_releases_.empty() && unlocked_writes_ == 0) {
    std::vector<Release> releases;
    releases.swap(pending_releases_);
    for (const Release& r : releases) {
      TRY(refcounts_->release(r.offset, r.length));
      if (r.l2_table) {
        uint64_t c = geometry_.cluster_index(r.offset);
        l2_clusters_.erase(c);
        TRY_ASSIGN(uint64_t count, refcounts_->get(c));
        if (count == 0) l2_cache_->drop(r.offset);
      }
      TRY(punch_free_clusters(r.offset, r.length));
    }
    decompressed_.clear();
    compressed_tail_ = 0;
  }
  return Ok();
}

// Host clusters nothing refers to any more become holes in the image file,
// so that a guest's discard gives the host its space back (as QEMU's
// pass-discard-request). Where the file system cannot punch, they stay.
Result<void> Qcow2Image::punch_free_clusters(uint64_t offset, uint64_t length) {
  if (length == 0) return Ok();
  const uint64_t last = geometry_.cluster_index(offset + length - 1);
  uint64_t run_start = 0, run_length = 0;
  for (uint64_t c = geometry_.cluster_index(offset); c <= last + 1; ++c) {
    bool free = false;
    if (c <= last) {
      TRY_ASSIGN(uint64_t count, refcounts_->get(c));
      free = count == 0;
    }
    if (free && run_length == 0) run_start = c;
    if (free) {
      ++run_length;
    } else if (run_length != 0) {
      TRY(file_->zero_range(run_start << geometry_.cluster_bits,
                            run_length << geometry_.cluster_bits, /*deallocate=*/true));
      run_length = 0;
    }
  }
  return Ok();
}

Result<void> Qcow2Image::flush() {
  std::lock_guard<std::mutex> lock(mu_);
  if (closed_) return Error(file_->path() + ": image is closed");
  return flush_locked();
}

Result<void> Qcow2Image::close_locked() {
  if (closed_) return Ok();
  wait_for_unlocked_writes();
  closed_ = true;
  if (file_->read_only() || corrupt_) return Ok();
  // (A bitmap that cannot be stored stays in use: inconsistent, not wrong.)
  if (!recording_bitmaps_.empty()) return store_recorded_bitmaps();
  return settle_all();
}

Result<void> Qcow2Image::settle_all() {
  TRY(flush_locked());
  // The releases of the flush above, and lazily kept refcounts.
  if (refcounts_->has_dirty()) {
    TRY(refcounts_->writeback());
    unsynced_ = true;
  }
  TRY(sync_if_needed());
  if (dirty_on_disk_) {
    TRY(set_incompatible_bit(kIncompatDirty, false));
    TRY(file_->sync());
    dirty_on_disk_ = false;
  }
  return Ok();
}

}  // namespace vessel::block
