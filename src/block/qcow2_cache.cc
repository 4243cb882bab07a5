#include "block/qcow2_cache.h"

#include <algorithm>

namespace vessel::block {

Qcow2TableCache::Qcow2TableCache(HostFile& file, uint64_t table_size, size_t capacity)
    : file_(file), table_size_(table_size), capacity_(std::max<size_t>(capacity, 2)) {}

Result<Qcow2Table*> Qcow2TableCache::get(uint64_t offset) {
  if (auto it = index_.find(offset); it != index_.end()) {
    lru_.splice(lru_.begin(), lru_, it->second);
    return &*it->second;
  }
  TRY(make_room());
  Qcow2Table table;
  table.offset = offset;
  table.bytes.resize(table_size_);
  TRY(file_.read_padded(offset, table.bytes));
  lru_.push_front(std::move(table));
  index_[offset] = lru_.begin();
  return &lru_.front();
}

Result<Qcow2Table*> Qcow2TableCache::create(uint64_t offset, const std::vector<uint8_t>& initial) {
  drop(offset);
  TRY(make_room());
  Qcow2Table table;
  table.offset = offset;
  table.bytes = initial.empty() ? std::vector<uint8_t>(table_size_, 0) : initial;
  table.bytes.resize(table_size_, 0);
  table.dirty = true;
  lru_.push_front(std::move(table));
  index_[offset] = lru_.begin();
  return &lru_.front();
}

Result<void> Qcow2TableCache::make_room() {
  if (lru_.size() < capacity_) return Ok();
  // Writing every dirty table when one must go costs one round of the
  // before_writeback hook (and its fdatasync) for many tables.
  if (lru_.back().dirty) TRY(writeback());
  index_.erase(lru_.back().offset);
  lru_.pop_back();
  return Ok();
}

Result<void> Qcow2TableCache::writeback() {
  if (!has_dirty()) return Ok();
  if (before_writeback_) TRY(before_writeback_());
  // In file order, which is kinder to the disk.
  std::vector<Qcow2Table*> dirty;
  for (auto& t : lru_) {
    if (t.dirty) dirty.push_back(&t);
  }
  std::sort(dirty.begin(), dirty.end(),
            [](const Qcow2Table* a, const Qcow2Table* b) { return a->offset < b->offset; });
  for (Qcow2Table* t : dirty) {
    TRY(file_.write(t->offset, t->bytes));
    t->dirty = false;
  }
  return Ok();
}

void Qcow2TableCache::drop(uint64_t offset) {
  if (auto it = index_.find(offset); it != index_.end()) {
    lru_.erase(it->second);
    index_.erase(it);
  }
}

void Qcow2TableCache::clear() {
  lru_.clear();
  index_.clear();
}

bool Qcow2TableCache::has_dirty() const {
  return std::any_of(lru_.begin(), lru_.end(), [](const Qcow2Table& t) { return t.dirty; });
}

}  // namespace vessel::block
