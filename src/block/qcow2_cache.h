// A write-back LRU cache of cluster-sized metadata tables (L2 tables and
// refcount blocks). Write ordering lives outside: before any dirty table is
// written, the cache calls the `before_writeback` hook, which makes durable
// whatever the tables point at (qcow2 spec "Host cluster management": a
// cluster must be counted before it is referenced).
#pragma once

#include <cstdint>
#include <functional>
#include <list>
#include <unordered_map>
#include <vector>

#include "base/result.h"
#include "block/host_file.h"
#include "block/qcow2_format.h"

namespace vessel::block {

struct Qcow2Table {
  uint64_t offset = 0;  // where the table lives in the image file
  std::vector<uint8_t> bytes;
  bool dirty = false;

  uint64_t entry(uint64_t index) const { return qcow2::load_be64(&bytes[index * 8]); }
  void set_entry(uint64_t index, uint64_t value) {
    qcow2::store_be64(&bytes[index * 8], value);
    dirty = true;
  }
};

class Qcow2TableCache {
 public:
  using Hook = std::function<Result<void>()>;

  // Holds at most `capacity` tables (at least 2) of `table_size` bytes each.
  Qcow2TableCache(HostFile& file, uint64_t table_size, size_t capacity);
  void set_before_writeback(Hook hook) { before_writeback_ = std::move(hook); }

  // The table at `offset`, read from the file on a miss. The pointer stays
  // valid until the next get() or create() on this cache.
  Result<Qcow2Table*> get(uint64_t offset);
  // A table at a newly allocated `offset`, filled with `initial` (or zeros
  // when empty) and dirty; nothing is read.
  Result<Qcow2Table*> create(uint64_t offset, const std::vector<uint8_t>& initial = {});
  // Writes every dirty table (after the hook).
  Result<void> writeback();
  // Forgets the table at `offset` without writing it (its cluster was freed).
  void drop(uint64_t offset);
  bool has_dirty() const;
  // Forgets every table without writing (the structure was replaced).
  void clear();

 private:
  Result<void> make_room();

  HostFile& file_;
  uint64_t table_size_;
  size_t capacity_;
  Hook before_writeback_;
  std::list<Qcow2Table> lru_;  // most recently used first
  std::unordered_map<uint64_t, std::list<Qcow2Table>::iterator> index_;
};

}  // namespace vessel::block
