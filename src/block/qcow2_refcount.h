// qcow2 host cluster management ("== Host cluster management ==" in the qcow2
// spec): the refcount table, refcount blocks of 1 to 64 bits per entry,
// cluster allocation, and growth of the table when the image outgrows it.
//
// Ordering: a refcount increase is always written before anything refers to
// the cluster (the L2 cache hook calls writeback() and fdatasync first), and a
// decrease only after the reference is gone from disk (the image defers
// releases until its L2 tables and L1 table are durable). So a crash leaves at
// worst leaked clusters, never a cluster in use with refcount 0.
#pragma once

#include <cstdint>
#include <functional>
#include <unordered_set>
#include <vector>

#include "base/result.h"
#include "block/host_file.h"
#include "block/qcow2_cache.h"
#include "block/qcow2_header.h"

namespace vessel::block {

class Qcow2Refcounts {
 public:
  Qcow2Refcounts(HostFile& file, const Qcow2Header& header, size_t cache_blocks);

  // Names the clusters that hold metadata this class does not manage
  // (header, L1 and L2 tables, snapshots). Finding one of them free means
  // its refcount is wrong: allocation then fails as corruption instead of
  // handing the cluster out again.
  void set_in_use_check(std::function<bool(uint64_t)> in_use) { in_use_ = std::move(in_use); }

  // Reads the refcount table and checks every entry (aligned, inside the
  // file, clear of the header).
  Result<void> load();

  // The refcount of host cluster `cluster` (an index, not a byte offset).
  Result<uint64_t> get(uint64_t cluster);
  // Adds `delta` to the refcount of `cluster`; an overflow of the entry width
  // or a count below zero is reported as corruption.
  Result<void> update(uint64_t cluster, int64_t delta);
  // Finds `count` contiguous free clusters, gives each refcount 1 and makes
  // the file long enough to hold them. Returns the byte offset of the first;
  // `fresh` tells whether they all lie beyond the previous end of the file
  // (so they read as zeros).
  struct Allocation {
    uint64_t offset;
    bool fresh;
  };
  Result<Allocation> allocate(uint64_t count);
  // Like allocate(), for a run that may be longer than one refcount block
  // covers (a large L1 table): the run goes after the end of the file and
  // the refcount blocks it needs right after it, outside the ranges they
  // cover. The result is never `fresh`-dependent: the file grows to hold it.
  Result<uint64_t> allocate_at_end(uint64_t count);
  // One reference less for every cluster that [offset, offset + length) touches.
  Result<void> release(uint64_t offset, uint64_t length);

  // Writes dirty refcount blocks, then (after an fdatasync) the table
  // entries of new blocks. The caller syncs to make it all durable.
  Result<void> writeback();
  bool has_dirty() const { return cache_.has_dirty() || !unwritten_table_entries_.empty(); }

  // True for clusters of the refcount table and of refcount blocks.
  bool is_metadata(uint64_t cluster) const;
  uint64_t max_refcount() const { return max_refcount_; }
  uint64_t table_offset() const { return table_offset_; }
  uint64_t table_clusters() const { return table_clusters_; }

  // Replaces the whole refcount structure with one that holds `counts`
  // (indexed by cluster; clusters past the end count 0). The new table and
  // blocks go after the end of the file, are written and synced, then the
  // header is switched to them. The old structure is not counted, so its
  // clusters become free. Used to repair images left dirty.
  Result<void> rebuild(std::vector<uint32_t> counts);
  // qemu-img check -r all's rebuild (qcow2-refcount.c,
  // rebuild_refcount_structure): `counts` must count every cluster in use,
  // the current refcount structure included. The new blocks, then the new
  // table, go into the first clusters `counts` shows free (past the end of
  // the file when none are), each block as soon as the walk meets the first
  // cluster it covers; `counts` then counts them too. The blocks and the
  // table are written and synced before the header points at them, so the
  // old structure stays intact until then; afterwards it is leaked, and the
  // caller frees it.
  Result<void> rebuild_first_fit(std::vector<uint32_t>& counts);

 private:
  void write_entry(uint8_t* block, uint64_t index, uint64_t value) const;
  // Index of the first cluster of a free run of `count` clusters at or after
  // `from`; `first_free` (optional) receives the first free cluster seen.
  Result<uint64_t> find_free_run(uint64_t from, uint64_t count, uint64_t* first_free = nullptr);
  // rebuild_first_fit()'s pass over clusters [first, end) of `counts`: a
  // block for each range that has a cluster in use, placed and written, its
  // offset in `table` (which grows to whole clusters as needed). Returns
  // whether `table` grew.
  Result<bool> write_rebuilt_blocks(std::vector<uint32_t>& counts, uint64_t first, uint64_t end,
                                    std::vector<uint64_t>& table);
  // Allocates refcount block `table_index` at `cluster` (inside the range it
  // covers, all free since the block does not exist yet).
  Result<void> create_block(uint64_t table_index, uint64_t cluster);
  // Moves the refcount table to a larger one holding at least `min_entries`.
  Result<void> grow_table(uint64_t min_entries);
  // Points the header at table_offset_/table_clusters_ (one 12-byte write
  // inside the first sector, so it is atomic).
  Result<void> write_header_table_fields();
  Error corrupt(const std::string& what) const;

  HostFile& file_;
  qcow2::Geometry geometry_;
  uint32_t refcount_bits_;
  uint64_t entries_per_block_;
  uint64_t max_refcount_;
  uint64_t table_offset_;
  uint64_t table_clusters_;
  std::vector<uint64_t> table_;  // host byte order
  std::unordered_set<uint64_t> block_clusters_;
  // Table entries of new blocks, written to the on-disk table by writeback()
  // once the blocks themselves are durable.
  std::vector<uint64_t> unwritten_table_entries_;
  Qcow2TableCache cache_;
  // Every cluster below this index is known to be in use.
  uint64_t free_hint_ = 0;
  std::function<bool(uint64_t)> in_use_;
};

}  // namespace vessel::block
