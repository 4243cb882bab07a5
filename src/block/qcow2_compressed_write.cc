// Writing compressed clusters ("Compressed Clusters Descriptor" in the qcow2
// spec). Compressed data is packed: a new compressed cluster starts where the
// last one ended when it fits in the rest of that host cluster, otherwise in
// freshly allocated clusters. Every host cluster that a compressed cluster's
// sectors touch holds one reference for it, which is what readers and
// `qemu-img check` count.
#include "block/qcow2.h"
#include "block/qcow2_compress.h"

namespace vessel::block {

using namespace qcow2;

Result<void> Qcow2Image::write_compressed(uint64_t offset, std::span<const uint8_t> data) {
  const uint64_t cs = geometry_.cluster_size();
  // Compression, the costly part, happens outside the lock (the cluster size
  // and compression type never change), so that callers on several threads
  // compress in parallel.
  std::vector<uint8_t> packed;
  if (data.size() <= cs) {
    std::vector<uint8_t> cluster(data.begin(), data.end());
    cluster.resize(cs, 0);
    TRY_ASSIGN(packed, qcow2_compress(header_.compression_type, cluster));
  }
  std::lock_guard<std::mutex> lock(mu_);
  TRY(check_request(offset, data.size(), true));
  // "neither compressed clusters nor internal snapshots are supported"
  TRY(check_no_external_data("compressed clusters are"));
  if (!geometry_.aligned(offset) ||
      (data.size() != cs && !(data.size() < cs && offset + data.size() == info_.size))) {
    return Error(file_->path() + ": a compressed write must cover exactly one cluster");
  }
  TRY(record_write(offset, data.size()));
  if (packed.empty()) return write_chunk(offset, data);  // incompressible

  const uint64_t guest_cluster = geometry_.cluster_index(offset);
  const uint64_t l1_index = guest_cluster / geometry_.l2_entries();
  const uint64_t l2_index = guest_cluster % geometry_.l2_entries();
  TRY_ASSIGN(Qcow2Table * table, l2_table_for_write(l1_index));
  const uint64_t l2_offset = table->offset;
  TRY_ASSIGN(Mapping old,
             classify(l2_entry(*table, l2_index), offset, true, l2_bitmap(*table, l2_index)));

  uint64_t host = 0;
  if (compressed_tail_ != 0 && cs - (compressed_tail_ & (cs - 1)) >= packed.size()) {
    // Shares the host cluster with the compressed data before it, unless its
    // refcount is already at the limit of the refcount width.
    uint64_t host_cluster = geometry_.cluster_index(compressed_tail_);
    TRY_ASSIGN(uint64_t count, refcounts_->get(host_cluster));
    if (count > 0 && count < refcounts_->max_refcount()) {
      TRY(refcounts_->update(host_cluster, 1));
      host = compressed_tail_;
    }
  }
  if (host == 0) {
    TRY_ASSIGN(auto alloc, refcounts_->allocate(div_round_up(packed.size(), cs)));
    host = alloc.offset;
  }
  TRY(file_->write(host, packed));
  unsynced_ = true;
  uint64_t end = host + packed.size();
  compressed_tail_ = (end & (cs - 1)) != 0 ? end : 0;

  // "x - 61: Number of additional 512-byte sectors used for the compressed
  // data, beyond the sector containing the offset".
  uint64_t extra_sectors = (end - 1) / kCompressedSectorSize - host / kCompressedSectorSize;
  uint64_t entry = kOflagCompressed | host | (extra_sectors << geometry_.compressed_offset_bits());
  TRY_ASSIGN(table, l2_cache_->get(l2_offset));
  // Compressed clusters have no subclusters: "Reserved (set to 0)".
  set_l2(*table, l2_index, entry, 0);
  release_later(old);
  if (decompressed_entry_ == entry) decompressed_.clear();
  return Ok();
}

}  // namespace vessel::block
