// Writing to images with extended L2 entries (qcow2 spec "Extended L2
// Entries"): a cluster is 32 subclusters, each allocated, reading as zeros or
// unallocated (reading from the backing file) on its own. A write allocates
// only the subclusters it touches, so copy-on-write from a backing file copies
// at most the two partly written subclusters at its ends, not the rest of the
// cluster. The crash ordering of qcow2_write.cc holds: the data goes out
// first, the L2 entry (descriptor and bitmap in one table) reaches the disk
// only after the refcounts and a sync.
#include <algorithm>
#include <bit>

#include "block/qcow2.h"

namespace vessel::block {

using namespace qcow2;

Result<void> Qcow2Image::write_subclusters(uint64_t guest_offset, std::span<const uint8_t> data) {
  const uint64_t scs = geometry_.subcluster_size();
  const uint64_t cluster = geometry_.cluster_index(guest_offset);
  const uint64_t cluster_start = cluster << geometry_.cluster_bits;
  const uint64_t in_cluster = guest_offset - cluster_start;
  const uint64_t l1_index = cluster / geometry_.l2_entries();
  const uint64_t l2_index = cluster % geometry_.l2_entries();
  const uint64_t first = in_cluster / scs;
  const uint64_t end = div_round_up(in_cluster + data.size(), scs);

  TRY_ASSIGN(Mapping m, lookup(guest_offset));
  // Fast path: subclusters of a cluster of our own (in a table of our own)
  // that hold data already.
  const uint64_t touched = subcluster_alloc_bits(first, end);
  const bool owned = m.kind == ClusterKind::kNormal && (m.entry & kOflagCopied) != 0 &&
                     (l1_[l1_index] & kOflagCopied) != 0;
  if (owned && (m.bitmap & touched) == touched) {
    TRY(guest_data().write(m.host + in_cluster, data));
    unsynced_ = true;
    return Ok();
  }

  TRY_ASSIGN(Qcow2Table * table, l2_table_for_write(l1_index));
  const uint64_t l2_offset = table->offset;
  // The table may be a fresh copy: classify its entry again.
  TRY_ASSIGN(m,
             classify(l2_entry(*table, l2_index), guest_offset, true, l2_bitmap(*table, l2_index)));
  const bool in_place = m.kind == ClusterKind::kNormal && (m.entry & kOflagCopied) != 0;

  // Subclusters [from, to) get written: those the data touches and, when the
  // cluster moves to a new host cluster, every one it held data in (a
  // compressed cluster has no subclusters: all of it).
  uint64_t from = first, to = end;
  uint64_t target = m.host;
  uint64_t bitmap = m.bitmap;
  if (!in_place) {
    if (m.kind == ClusterKind::kCompressed) {
      from = 0;
      to = kSubclustersPerCluster;
      bitmap = 0;  // "Reserved (set to 0)" for compressed clusters
    } else if (uint64_t held = m.bitmap & kSubclusterAllocMask; held != 0) {
      from = std::min<uint64_t>(from, std::countr_zero(held));
      to = std::max<uint64_t>(to, std::bit_width(held));
    }
    TRY_ASSIGN(DataCluster alloc, allocate_data(cluster_start, 1));
    target = alloc.offset;
  }
  // Bytes of [from, to) outside the data keep what the guest reads there now
  // (backing file, zeros or the old cluster): in place only the edge
  // subclusters that held no data need it. The disk may end inside the range.
  uint64_t span_start = from * scs;
  uint64_t span_end = std::min(to * scs, area_end(cluster_start) - cluster_start);
  if (in_place) {
    if ((m.bitmap >> first) & 1) span_start = in_cluster;
    if ((m.bitmap >> (end - 1)) & 1) span_end = in_cluster + data.size();
  }
  span_start = std::min(span_start, in_cluster);
  span_end = std::max(span_end, in_cluster + data.size());
  if (span_start == in_cluster && span_end == in_cluster + data.size()) {
    TRY(guest_data().write(target + in_cluster, data));
  } else {
    std::vector<uint8_t> buffer(span_end - span_start);
    TRY(read_locked(cluster_start + span_start, buffer, nullptr));
    std::copy(data.begin(), data.end(),
              buffer.begin() + static_cast<ptrdiff_t>(in_cluster - span_start));
    TRY(guest_data().write(target + span_start, buffer));
  }
  unsynced_ = true;

  // "1: the subcluster is allocated ... the allocation status bit must be
  // unset" where it reads as zeros: written subclusters lose their zero bit.
  bitmap = (bitmap | subcluster_alloc_bits(from, to)) & ~subcluster_zero_bits(from, to);
  TRY_ASSIGN(table, l2_cache_->get(l2_offset));
  set_l2(*table, l2_index, target | kOflagCopied, bitmap);
  if (!in_place) release_later(m);
  return Ok();
}

Result<void> Qcow2Image::zero_subclusters(uint64_t cluster_offset, uint64_t first, uint64_t end) {
  const uint64_t cluster = geometry_.cluster_index(cluster_offset);
  const uint64_t l1_index = cluster / geometry_.l2_entries();
  const uint64_t l2_index = cluster % geometry_.l2_entries();
  const uint64_t scs = geometry_.subcluster_size();
  const uint64_t zero_bits = subcluster_zero_bits(first, end);
  TRY_ASSIGN(Mapping m, lookup(cluster_offset));
  if (m.kind == ClusterKind::kCompressed) {
    // A compressed cluster has no subclusters to mark: zeros are written.
    const uint64_t start = cluster_offset + first * scs;
    std::vector<uint8_t> zeros(std::min(end * scs, info_.size - cluster_offset) - first * scs, 0);
    return write_subclusters(start, zeros);
  }
  if ((m.bitmap & zero_bits) == zero_bits) return Ok();
  TRY_ASSIGN(Qcow2Table * table, l2_table_for_write(l1_index));
  TRY_ASSIGN(
      m, classify(l2_entry(*table, l2_index), cluster_offset, true, l2_bitmap(*table, l2_index)));
  // The host cluster (if any) stays: its other subclusters may hold data.
  uint64_t bitmap = (m.bitmap & ~subcluster_alloc_bits(first, end)) | zero_bits;
  set_l2(*table, l2_index, m.entry, bitmap);
  return Ok();
}

Result<void> Qcow2Image::zero_cluster_subclusters(uint64_t guest_offset, ZeroMode mode) {
  const uint64_t cluster = geometry_.cluster_index(guest_offset);
  const uint64_t l1_index = cluster / geometry_.l2_entries();
  const uint64_t l2_index = cluster % geometry_.l2_entries();
  TRY_ASSIGN(Mapping m, lookup(guest_offset));
  // A compressed cluster always goes; another host cluster goes only when
  // the caller lets it, else it stays as preallocation.
  const bool unmap = m.kind == ClusterKind::kCompressed ||
                     (mode == ZeroMode::kDeallocate && m.kind != ClusterKind::kUnallocated);
  const uint64_t entry = unmap ? 0 : m.entry;
  if (entry == m.entry && m.bitmap == kSubclusterZeroMask) return Ok();
  TRY_ASSIGN(Qcow2Table * table, l2_table_for_write(l1_index));
  TRY_ASSIGN(m,
             classify(l2_entry(*table, l2_index), guest_offset, true, l2_bitmap(*table, l2_index)));
  // "Subcluster reads as zeros" for all 32: extended L2 entries have no
  // zero flag ("With version 2 or with extended L2 entries, this is always 0").
  set_l2(*table, l2_index, unmap ? 0 : m.entry, kSubclusterZeroMask);
  if (unmap) release_later(m);
  return Ok();
}

Result<void> Qcow2Image::discard_cluster_subclusters(uint64_t guest_offset) {
  const uint64_t cluster = geometry_.cluster_index(guest_offset);
  const uint64_t l1_index = cluster / geometry_.l2_entries();
  const uint64_t l2_index = cluster % geometry_.l2_entries();
  TRY_ASSIGN(Mapping m, lookup(guest_offset));
  // Without a backing file an unmapped cluster reads as zeros already.
  if (m.kind == ClusterKind::kUnallocated && !backing_) return Ok();
  if (m.kind == ClusterKind::kUnallocated && m.bitmap == kSubclusterZeroMask) return Ok();
  TRY_ASSIGN(Qcow2Table * table, l2_table_for_write(l1_index));
  TRY_ASSIGN(m,
             classify(l2_entry(*table, l2_index), guest_offset, true, l2_bitmap(*table, l2_index)));
  set_l2(*table, l2_index, 0, kSubclusterZeroMask);
  release_later(m);
  return Ok();
}

Result<void> Qcow2Image::write_zeroes_subclusters(uint64_t offset, uint64_t length, ZeroMode mode) {
  const uint64_t cs = geometry_.cluster_size();
  const uint64_t scs = geometry_.subcluster_size();
  std::vector<uint8_t> zeros;
  // Part of one subcluster: when the rest of it reads as zeros and it holds
  // no data, it becomes a zero subcluster; otherwise zeros are written (as
  // QEMU's qcow2_co_pwrite_zeroes decides).
  auto partial = [&](uint64_t pos, uint64_t bytes) -> Result<void> {
    if (bytes == 0) return Ok();
    const uint64_t sc_start = pos & ~(scs - 1);
    const uint64_t sc_end = std::min(sc_start + scs, info_.size);
    TRY_ASSIGN(Mapping whole, lookup(pos));
    uint64_t run = 0;
    const ClusterKind kind = subcluster(whole, pos & (cs - 1), &run).kind;
    if (kind == ClusterKind::kUnallocated || kind == ClusterKind::kZero) {
      TRY_ASSIGN(bool before, reads_as_zeros(sc_start, pos - sc_start));
      TRY_ASSIGN(bool after, reads_as_zeros(pos + bytes, sc_end - (pos + bytes)));
      if (before && after) {
        const uint64_t index = (sc_start & (cs - 1)) / scs;
        return zero_subclusters(sc_start & ~(cs - 1), index, index + 1);
      }
    }
    zeros.assign(bytes, 0);
    return write_subclusters(pos, zeros);
  };
  uint64_t done = 0;
  while (done < length) {
    const uint64_t pos = offset + done;
    const uint64_t cluster_start = pos & ~(cs - 1);
    const uint64_t in_cluster = pos - cluster_start;
    const uint64_t chunk = std::min<uint64_t>(length - done, cs - in_cluster);
    const bool to_disk_end = pos + chunk == info_.size;
    if (in_cluster == 0 && (chunk == cs || to_disk_end)) {
      TRY(zero_cluster_subclusters(pos, mode));
    } else {
      // Whole subclusters [first, end); the disk's last one counts as whole
      // when the request reaches the end of the disk.
      const uint64_t first = div_round_up(in_cluster, scs);
      const uint64_t end =
          to_disk_end ? div_round_up(in_cluster + chunk, scs) : (in_cluster + chunk) / scs;
      if (first >= end) {
        // Inside one subcluster, or across the border of two.
        const uint64_t border = std::min((in_cluster / scs + 1) * scs, in_cluster + chunk);
        TRY(partial(pos, border - in_cluster));
        TRY(partial(cluster_start + border, in_cluster + chunk - border));
      } else {
        TRY(partial(pos, first * scs - in_cluster));
        TRY(zero_subclusters(cluster_start, first, end));
        const uint64_t tail = std::min(end * scs, in_cluster + chunk);
        TRY(partial(cluster_start + tail, in_cluster + chunk - tail));
      }
    }
    done += chunk;
  }
  return Ok();
}

}  // namespace vessel::block
