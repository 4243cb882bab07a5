// What the guest may read back after a power cut. Each guest write fills its
// sectors with a pattern naming the write and the sector, so a sector read
// back tells who wrote it. A sector must hold what it held when the last
// flush that completed before the cut returned, or what a request issued
// after that flush (and before the cut) put there; nothing else, and never
// a mix of two.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace vessel::block::testing {

constexpr uint64_t kGuestSectorSize = 512;

class GuestModel {
 public:
  explicit GuestModel(uint64_t disk_size) : history_(disk_size / kGuestSectorSize) {}

  // Records a write of [offset, offset + data.size()) (sector aligned), issued
  // when `position` host operations were journaled, and fills `data` with its
  // pattern.
  void write(uint64_t offset, std::span<uint8_t> data, size_t position);
  // Records a request after which [offset, offset + length) reads as zeros
  // (write_zeroes, or a discard of whole clusters).
  void zero(uint64_t offset, uint64_t length, size_t position);
  // Records that a flush returned when `position` host operations were journaled.
  void flush_done(size_t position);
  // A mark of the guest's history, for contents_at().
  size_t now() const { return next_event_; }

  // Checks the whole guest disk as read after a power cut before host
  // operation `position`. Returns "" or what is wrong with the first bad sector.
  std::string verify(std::span<const uint8_t> disk, size_t position) const;
  // Checks `disk` against the exact contents at mark `when` (a snapshot).
  std::string verify_exact(std::span<const uint8_t> disk, size_t when) const;

 private:
  // One request that changed a sector: event number, journal position, and
  // the writer (0: zeros).
  struct Change {
    size_t event;
    size_t position;
    uint64_t writer;
  };
  void record(uint64_t offset, uint64_t length, size_t position, uint64_t writer);
  // The writer (0: zeros) whose pattern fills the sector `index` as read;
  // false when it holds no such pattern (garbage, a mix, another sector's data).
  static bool decode(std::span<const uint8_t> sector, uint64_t index, uint64_t* writer);
  static uint64_t writer_before(const std::vector<Change>& changes, size_t event);

  std::vector<std::vector<Change>> history_;        // per sector, oldest first
  std::vector<std::pair<size_t, size_t>> flushes_;  // (event, position) of completed flushes
  size_t next_event_ = 0;
  uint64_t next_writer_ = 1;
};

}  // namespace vessel::block::testing
