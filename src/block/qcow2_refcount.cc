#include "block/qcow2_refcount.h"

#include <algorithm>
#include <map>

namespace vessel::block {

using namespace qcow2;

namespace {

// Host offsets must fit the 56-bit offset fields of L1 and L2 entries.
constexpr uint64_t kMaxHostOffset = uint64_t{1} << 56;

}  // namespace

Qcow2Refcounts::Qcow2Refcounts(HostFile& file, const Qcow2Header& header, size_t cache_blocks)
    : file_(file),
      geometry_(header.geometry()),
      refcount_bits_(header.refcount_bits()),
      entries_per_block_(geometry_.cluster_size() * 8 / refcount_bits_),
      max_refcount_(refcount_bits_ == 64 ? UINT64_MAX : (uint64_t{1} << refcount_bits_) - 1),
      table_offset_(header.refcount_table_offset),
      table_clusters_(header.refcount_table_clusters),
      cache_(file, geometry_.cluster_size(), cache_blocks) {}

Error Qcow2Refcounts::corrupt(const std::string& what) const {
  return Error(file_.path() + ": corrupt qcow2 image: " + what);
}

Result<void> Qcow2Refcounts::load() {
  uint64_t bytes = table_clusters_ << geometry_.cluster_bits;
  std::vector<uint8_t> raw(bytes);
  // The table may end in a cluster the file does not fully hold yet.
  TRY(file_.read_padded(table_offset_, raw));
  table_.resize(bytes / 8);
  block_clusters_.clear();
  uint64_t file_end = round_up(file_.size(), geometry_.cluster_size());
  for (uint64_t i = 0; i < table_.size(); ++i) {
    uint64_t entry = load_be64(&raw[i * 8]);
    // "Refcount table entry: Bit 0 - 8: Reserved (set to 0)"
    if (entry != 0 && ((entry & ~kRefcountTableOffsetMask) != 0 || !geometry_.aligned(entry) ||
                       entry < geometry_.cluster_size() || entry >= file_end)) {
      return corrupt("refcount table entry " + std::to_string(i) + " (" + std::to_string(entry) +
                     ") is not a valid refcount block offset");
    }
    uint64_t cluster = geometry_.cluster_index(entry);
    if (entry != 0 && (cluster >= geometry_.cluster_index(table_offset_) &&
                       cluster < geometry_.cluster_index(table_offset_) + table_clusters_)) {
      return corrupt("refcount block " + std::to_string(i) + " overlaps the refcount table");
    }
    table_[i] = entry;
    if (entry != 0) block_clusters_.insert(cluster);
  }
  return Ok();
}

bool Qcow2Refcounts::is_metadata(uint64_t cluster) const {
  uint64_t first = geometry_.cluster_index(table_offset_);
  if (cluster >= first && cluster < first + table_clusters_) return true;
  return block_clusters_.count(cluster) != 0;
}

void Qcow2Refcounts::write_entry(uint8_t* block, uint64_t index, uint64_t value) const {
  if (refcount_bits_ >= 8) {
    uint32_t bytes = refcount_bits_ / 8;
    uint8_t* p = block + index * bytes;
    for (uint32_t i = 0; i < bytes; ++i) p[bytes - 1 - i] = static_cast<uint8_t>(value >> (8 * i));
    return;
  }
  uint64_t bit = index * refcount_bits_;
  uint8_t mask = static_cast<uint8_t>(((1u << refcount_bits_) - 1) << (bit % 8));
  block[bit / 8] = static_cast<uint8_t>((block[bit / 8] & ~mask) | ((value << (bit % 8)) & mask));
}

Result<uint64_t> Qcow2Refcounts::get(uint64_t cluster) {
  uint64_t t = cluster / entries_per_block_;
  // "If this is 0, the corresponding refcount block has not yet been
  // allocated. All refcounts managed by this refcount block are 0."
  if (t >= table_.size() || table_[t] == 0) return uint64_t{0};
  TRY_ASSIGN(Qcow2Table * block, cache_.get(table_[t]));
  return load_refcount(block->bytes.data(), cluster % entries_per_block_, refcount_bits_);
}

Result<void> Qcow2Refcounts::update(uint64_t cluster, int64_t delta) {
  uint64_t t = cluster / entries_per_block_;
  if (delta < 0 && (t >= table_.size() || table_[t] == 0)) {
    return corrupt("refcount of cluster " + std::to_string(cluster) + " would drop below 0");
  }
  if (t >= table_.size()) TRY(grow_table(t + 1));
  if (table_[t] == 0) {
    // The block goes in the range it covers, which is all free; the first
    // free cluster that is not `cluster` itself will do.
    uint64_t first = t * entries_per_block_;
    uint64_t place = first == cluster ? first + 1 : first;
    TRY(create_block(t, place));
  }
  TRY_ASSIGN(Qcow2Table * block, cache_.get(table_[t]));
  uint64_t index = cluster % entries_per_block_;
  uint64_t old = load_refcount(block->bytes.data(), index, refcount_bits_);
  uint64_t value;
  if (delta >= 0) {
    if (max_refcount_ - old < static_cast<uint64_t>(delta)) {
      return Error(file_.path() + ": refcount of cluster " + std::to_string(cluster) +
                   " would exceed the maximum of " + std::to_string(max_refcount_) +
                   " for this image's refcount width");
    }
    value = old + static_cast<uint64_t>(delta);
  } else {
    if (old < static_cast<uint64_t>(-delta)) {
      return corrupt("refcount of cluster " + std::to_string(cluster) + " would drop below 0");
    }
    value = old - static_cast<uint64_t>(-delta);
    if (value == 0) free_hint_ = std::min(free_hint_, cluster);
  }
  write_entry(block->bytes.data(), index, value);
  block->dirty = true;
  return Ok();
}

Result<uint64_t> Qcow2Refcounts::find_free_run(uint64_t from, uint64_t count,
                                               uint64_t* first_free) {
  uint64_t start = from;
  uint64_t length = 0;
  uint64_t cluster = from;
  bool seen_free = false;
  auto note_free = [&](uint64_t c) {
    if (!seen_free && first_free != nullptr) *first_free = c;
    seen_free = true;
  };
  while (length < count) {
    if ((cluster + 1) << geometry_.cluster_bits > kMaxHostOffset) {
      return Error(file_.path() + ": the image file has reached the qcow2 size limit");
    }
    uint64_t t = cluster / entries_per_block_;
    if (t >= table_.size() || table_[t] == 0) {
      // A whole missing block is free: skip to its end.
      uint64_t block_end = (t + 1) * entries_per_block_;
      note_free(cluster);
      length += block_end - cluster;
      cluster = block_end;
      continue;
    }
    TRY_ASSIGN(Qcow2Table * block, cache_.get(table_[t]));
    uint64_t block_end = (t + 1) * entries_per_block_;
    for (; cluster < block_end && length < count; ++cluster) {
      if (load_refcount(block->bytes.data(), cluster % entries_per_block_, refcount_bits_) == 0) {
        note_free(cluster);
        ++length;
      } else {
        start = cluster + 1;
        length = 0;
      }
    }
  }
  // The header cluster is always in use (and offset 0 means "no block" in
  // the refcount table, so a block placed there would never be found).
  for (uint64_t c = start; c < start + count; ++c) {
    if (c == 0 || is_metadata(c) || (in_use_ && in_use_(c))) {
      return corrupt("cluster " + std::to_string(c) + " holds metadata but its refcount is 0");
    }
  }
  return start;
}

Result<Qcow2Refcounts::Allocation> Qcow2Refcounts::allocate(uint64_t count) {
  // A run as long as a refcount block's range may need a new block inside
  // itself wherever it goes, and the search below would chase it for ever.
  if (count >= entries_per_block_) {
    TRY_ASSIGN(uint64_t offset, allocate_at_end(count));
    return Allocation{offset, true};
  }
  for (;;) {
    uint64_t first_free = free_hint_;
    TRY_ASSIGN(uint64_t start, find_free_run(free_hint_, count, &first_free));
    // Everything before the first free cluster is in use: later searches
    // start there.
    free_hint_ = first_free;
    bool changed = false;
    for (uint64_t t = start / entries_per_block_; t <= (start + count - 1) / entries_per_block_;
         ++t) {
      if (t >= table_.size()) {
        TRY(grow_table(t + 1));
        changed = true;
        break;
      }
      if (table_[t] == 0) {
        // Inside the run, so the run moves on after the new block.
        TRY(create_block(t, std::max(start, t * entries_per_block_)));
        changed = true;
        break;
      }
    }
    if (changed) continue;
    for (uint64_t i = 0; i < count; ++i) TRY(update(start + i, 1));
    if (start == free_hint_) free_hint_ = start + count;
    uint64_t offset = start << geometry_.cluster_bits;
    uint64_t end = (start + count) << geometry_.cluster_bits;
    bool fresh = offset >= file_.size();
    if (end > file_.size()) TRY(file_.truncate(end));
    return Allocation{offset, fresh};
  }
}

Result<uint64_t> Qcow2Refcounts::allocate_at_end(uint64_t count) {
  const uint64_t cs = geometry_.cluster_size();
  const uint64_t start = div_round_up(file_.size(), cs);
  // Blocks for the ranges of [start, end) that have none, placed at the end;
  // they may themselves reach a new range, so iterate.
  std::vector<uint64_t> needed;
  for (;;) {
    uint64_t end = start + count + needed.size();
    std::vector<uint64_t> want;
    for (uint64_t t = start / entries_per_block_; t <= (end - 1) / entries_per_block_; ++t) {
      if (t >= table_.size() || table_[t] == 0) want.push_back(t);
    }
    if (want == needed) break;
    needed = std::move(want);
  }
  const uint64_t end = start + count + needed.size();
  if (end << geometry_.cluster_bits > kMaxHostOffset) {
    return Error(file_.path() + ": the image file has reached the qcow2 size limit");
  }
  if (!needed.empty() && needed.back() >= table_.size()) {
    // grow_table() places its table past the file end: start again after it.
    TRY(grow_table(needed.back() + 1));
    return allocate_at_end(count);
  }
  TRY(file_.truncate(end * cs));
  std::map<uint64_t, Qcow2Table*> created;
  for (size_t i = 0; i < needed.size(); ++i) {
    uint64_t offset = (start + count + i) << geometry_.cluster_bits;
    TRY(cache_.create(offset, std::vector<uint8_t>(cs, 0)));
    table_[needed[i]] = offset;
    block_clusters_.insert(start + count + i);
    unwritten_table_entries_.push_back(needed[i]);
  }
  // Every cluster of the run and of the new blocks gets its count, through
  // the cache (the new blocks are in it now).
  for (uint64_t c = start; c < end; ++c) TRY(update(c, 1));
  return start << geometry_.cluster_bits;
}

Result<void> Qcow2Refcounts::release(uint64_t offset, uint64_t length) {
  if (length == 0) return Ok();
  uint64_t first = geometry_.cluster_index(offset);
  uint64_t last = geometry_.cluster_index(offset + length - 1);
  for (uint64_t c = first; c <= last; ++c) TRY(update(c, -1));
  return Ok();
}

Result<void> Qcow2Refcounts::writeback() {
  TRY(cache_.writeback());
  if (unwritten_table_entries_.empty()) return Ok();
  // A table entry may only point at a block whose content is on disk.
  TRY(file_.sync());
  for (uint64_t index : unwritten_table_entries_) {
    uint8_t entry[8];
    store_be64(entry, table_[index]);
    TRY(file_.write(table_offset_ + index * 8, entry));
  }
  unwritten_table_entries_.clear();
  return Ok();
}

Result<void> Qcow2Refcounts::create_block(uint64_t table_index, uint64_t cluster) {
  std::vector<uint8_t> block(geometry_.cluster_size(), 0);
  write_entry(block.data(), cluster % entries_per_block_, 1);
  uint64_t offset = cluster << geometry_.cluster_bits;
  if (offset + geometry_.cluster_size() > file_.size()) {
    TRY(file_.truncate(offset + geometry_.cluster_size()));
  }
  // A dirty block in the cache; writeback() writes it, syncs, and only then
  // the table entry that points to it.
  TRY(cache_.create(offset, block));
  table_[table_index] = offset;
  block_clusters_.insert(cluster);
  unwritten_table_entries_.push_back(table_index);
  return Ok();
}

Result<void> Qcow2Refcounts::write_header_table_fields() {
  uint8_t fields[12];
  store_be64(fields, table_offset_);
  store_be32(fields + 8, static_cast<uint32_t>(table_clusters_));
  return file_.write(field::kRefcountTableOffset, fields);
}

Result<void> Qcow2Refcounts::grow_table(uint64_t min_entries) {
  const uint64_t cs = geometry_.cluster_size();
  const uint64_t per_table_cluster = cs / 8;
  const uint64_t old_entries = table_.size();
  uint64_t entries = std::max(min_entries, old_entries + old_entries / 2 + 1);
  // The new table and the blocks it needs go in a free run at the end of the
  // file; the blocks that run needs depend on where it lands, so iterate.
  uint64_t file_end = div_round_up(file_.size(), cs);
  uint64_t table_clusters = 0;
  uint64_t new_blocks = 0;
  uint64_t start = 0;
  std::vector<uint64_t> needed;  // table indices of the new blocks
  for (;;) {
    table_clusters = div_round_up(entries, per_table_cluster);
    TRY_ASSIGN(start, find_free_run(file_end, table_clusters + new_blocks));
    uint64_t end = start + table_clusters + new_blocks;
    needed.clear();
    for (uint64_t t = start / entries_per_block_; t <= (end - 1) / entries_per_block_; ++t) {
      if (t >= old_entries || table_[t] == 0) needed.push_back(t);
    }
    uint64_t want_entries = std::max(entries, (end - 1) / entries_per_block_ + 1);
    if (needed.size() == new_blocks && want_entries <= table_clusters * per_table_cluster) break;
    new_blocks = needed.size();
    entries = std::max(entries, want_entries);
  }
  if (table_clusters * cs > kMaxRefcountTableBytes) {
    return Error(file_.path() + ": the image file has grown beyond the qcow2 refcount table limit");
  }
  uint64_t end = start + table_clusters + new_blocks;
  std::vector<uint64_t> table(table_clusters * per_table_cluster, 0);
  std::copy(table_.begin(), table_.end(), table.begin());
  // New blocks, each counting the new clusters in its range.
  std::map<uint64_t, std::vector<uint8_t>> blocks;
  for (size_t i = 0; i < needed.size(); ++i) {
    table[needed[i]] = (start + table_clusters + i) << geometry_.cluster_bits;
    blocks[needed[i]].assign(cs, 0);
  }
  for (uint64_t c = start; c < end; ++c) {
    uint64_t t = c / entries_per_block_;
    if (auto it = blocks.find(t); it != blocks.end()) {
      write_entry(it->second.data(), c % entries_per_block_, 1);
    } else {
      TRY(update(c, 1));  // in an existing block, through the cache
    }
  }
  for (size_t i = 0; i < needed.size(); ++i) {
    TRY(file_.write(table[needed[i]], blocks[needed[i]]));
  }
  std::vector<uint8_t> raw(table.size() * 8);
  for (size_t i = 0; i < table.size(); ++i) store_be64(&raw[i * 8], table[i]);
  TRY(file_.write(start << geometry_.cluster_bits, raw));
  TRY(cache_.writeback());
  TRY(file_.sync());
  unwritten_table_entries_.clear();  // the new table has them all

  uint64_t old_offset = table_offset_;
  uint64_t old_clusters = table_clusters_;
  table_offset_ = start << geometry_.cluster_bits;
  table_clusters_ = table_clusters;
  table_ = std::move(table);
  for (size_t i = 0; i < needed.size(); ++i) block_clusters_.insert(start + table_clusters + i);
  TRY(write_header_table_fields());
  TRY(file_.sync());
  // The header no longer refers to the old table.
  return release(old_offset, old_clusters * cs);
}

Result<void> Qcow2Refcounts::rebuild(std::vector<uint32_t> counts) {
  const uint64_t cs = geometry_.cluster_size();
  const uint64_t per_table_cluster = cs / 8;
  uint64_t start = std::max<uint64_t>(div_round_up(file_.size(), cs), counts.size());
  // Blocks needed for the counted clusters.
  std::vector<uint64_t> used_blocks;
  for (uint64_t c = 0; c < counts.size(); ++c) {
    if (counts[c] == 0) continue;
    if (counts[c] > max_refcount_) {
      return Error(file_.path() + ": cannot repair: cluster " + std::to_string(c) + " has " +
                   std::to_string(counts[c]) + " references, more than the refcount width holds");
    }
    uint64_t t = c / entries_per_block_;
    if (used_blocks.empty() || used_blocks.back() != t) used_blocks.push_back(t);
  }
  // Then the new structure itself, placed at `start`: table, then blocks.
  uint64_t table_clusters = 1;
  std::vector<uint64_t> blocks;
  for (;;) {
    uint64_t end = start + table_clusters + blocks.size();
    std::vector<uint64_t> want = used_blocks;
    for (uint64_t t = start / entries_per_block_; t <= (end - 1) / entries_per_block_; ++t) {
      if (want.empty() || want.back() < t) want.push_back(t);
    }
    uint64_t entries = (end - 1) / entries_per_block_ + 1;
    uint64_t want_table = div_round_up(entries, per_table_cluster);
    if (want == blocks && want_table == table_clusters) break;
    blocks = std::move(want);
    table_clusters = std::max(table_clusters, want_table);
  }
  if (table_clusters * cs > kMaxRefcountTableBytes) {
    return Error(file_.path() + ": cannot repair: the refcount table would be too large");
  }
  uint64_t end = start + table_clusters + blocks.size();
  if (end << geometry_.cluster_bits > kMaxHostOffset) {
    return Error(file_.path() + ": cannot repair: the image file is too large");
  }
  counts.resize(end, 0);
  for (uint64_t c = start; c < end; ++c) counts[c] = 1;

  std::vector<uint8_t> raw_table(table_clusters * cs, 0);
  std::vector<uint8_t> block(cs);
  for (size_t i = 0; i < blocks.size(); ++i) {
    uint64_t t = blocks[i];
    uint64_t offset = (start + table_clusters + i) << geometry_.cluster_bits;
    std::fill(block.begin(), block.end(), 0);
    for (uint64_t j = 0; j < entries_per_block_; ++j) {
      uint64_t c = t * entries_per_block_ + j;
      if (c >= counts.size()) break;
      write_entry(block.data(), j, counts[c]);
    }
    TRY(file_.write(offset, block));
    store_be64(&raw_table[t * 8], offset);
  }
  TRY(file_.write(start << geometry_.cluster_bits, raw_table));
  TRY(file_.sync());

  cache_.clear();
  unwritten_table_entries_.clear();
  table_offset_ = start << geometry_.cluster_bits;
  table_clusters_ = table_clusters;
  TRY(write_header_table_fields());
  TRY(file_.sync());
  free_hint_ = 0;
  return load();
}

namespace {

// qemu's alloc_clusters_imrt(): the first run of `count` clusters free in
// `counts` from `*first_free` on (the array grows, with free clusters, when
// it ends first), each given refcount 1. `*first_free` moves to the first
// free cluster met.
uint64_t allocate_in_counts(std::vector<uint32_t>& counts, uint64_t count, uint64_t* first_free) {
  uint64_t cluster = *first_free;
  uint64_t contiguous = 0;
  bool first_gap = true;
  for (; cluster < counts.size() && contiguous < count; ++cluster) {
    if (counts[cluster] == 0) {
      ++contiguous;
      if (first_gap) {
        *first_free = cluster;
        first_gap = false;
      }
    } else {
      contiguous = 0;
    }
  }
  if (contiguous < count) counts.resize(cluster + count - contiguous, 0);
  uint64_t start = cluster - contiguous;
  for (uint64_t i = 0; i < count; ++i) counts[start + i] = 1;
  return start;
}

}  // namespace

Result<bool> Qcow2Refcounts::write_rebuilt_blocks(std::vector<uint32_t>& counts, uint64_t first,
                                                  uint64_t end, std::vector<uint64_t>& table) {
  const uint64_t cs = geometry_.cluster_size();
  uint64_t first_free = 0;
  bool grown = false;
  std::vector<uint8_t> block(cs);
  for (uint64_t c = first; c < end; ++c) {
    if (c >= counts.size() || counts[c] == 0) continue;
    const uint64_t index = c / entries_per_block_;
    const uint64_t block_start = index * entries_per_block_;
    uint64_t offset = 0;
    if (index < table.size() && table[index] != 0) {
      offset = table[index];  // placed in an earlier pass
    } else {
      // Not in the range of a block already written.
      first_free = std::max(first_free, block_start);
      uint64_t placed = allocate_in_counts(counts, 1, &first_free);
      if ((placed + 1) << geometry_.cluster_bits > kMaxHostOffset) {
        return Error(file_.path() + ": cannot repair: the image file is too large");
      }
      // The block that counts this one must be written too.
      end = std::max(end, placed + 1);
      if (table.size() <= index) {
        table.resize(round_up((index + 1) * 8, cs) / 8, 0);
        grown = true;
      }
      offset = placed << geometry_.cluster_bits;
      table[index] = offset;
    }
    std::fill(block.begin(), block.end(), 0);
    for (uint64_t j = 0; j < entries_per_block_ && block_start + j < counts.size(); ++j) {
      uint32_t value = counts[block_start + j];
      if (value > max_refcount_) {
        return Error(file_.path() + ": cannot repair: cluster " + std::to_string(block_start + j) +
                     " has " + std::to_string(value) +
                     " references, more than the refcount width holds");
      }
      write_entry(block.data(), j, value);
    }
    TRY(file_.write(offset, block));
    c = block_start + entries_per_block_ - 1;  // this block is done
  }
  return grown;
}

Result<void> Qcow2Refcounts::rebuild_first_fit(std::vector<uint32_t>& counts) {
  const uint64_t cs = geometry_.cluster_size();
  cache_.clear();
  unwritten_table_entries_.clear();
  std::vector<uint64_t> table;
  TRY(write_rebuilt_blocks(counts, 0, counts.size(), table));
  if (table.empty()) {
    return Error(file_.path() + ": cannot repair: no cluster is in use");
  }
  // The table itself, in the first free clusters; the blocks covering it
  // are written again, and when that makes the table grow it moves (the
  // clusters it had are freed with the old structure).
  uint64_t table_offset = 0;
  uint64_t table_clusters = 0;
  for (bool grown = true; grown;) {
    table_clusters = div_round_up(table.size() * 8, cs);
    if (table_clusters * cs > kMaxRefcountTableBytes) {
      return Error(file_.path() + ": cannot repair: the refcount table would be too large");
    }
    uint64_t first_free = 0;
    uint64_t start = allocate_in_counts(counts, table_clusters, &first_free);
    table_offset = start << geometry_.cluster_bits;
    TRY_ASSIGN(grown, write_rebuilt_blocks(counts, start, start + table_clusters, table));
  }
  std::vector<uint8_t> raw(table.size() * 8);
  for (size_t i = 0; i < table.size(); ++i) store_be64(&raw[i * 8], table[i]);
  TRY(file_.write(table_offset, raw));
  TRY(file_.sync());

  table_offset_ = table_offset;
  table_clusters_ = table_clusters;
  TRY(write_header_table_fields());
  TRY(file_.sync());
  free_hint_ = 0;
  return load();
}

}  // namespace vessel::block
