// A journal of what the process asks the host kernel to do to one file: the
// writes, size changes, zeroed ranges and syncs that reach it through the
// libc calls HostFile makes. Those calls are wrapped at link time (ld --wrap,
// see CMakeLists.txt), so the block layer runs unchanged and unaware, and
// every other file passes straight through.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace vessel::block::testing {

struct HostOp {
  enum class Kind {
    kWrite,     // pwrite: `data` at `offset`, growing the file when it reaches past the end
    kTruncate,  // ftruncate to `length`
    kZero,      // fallocate punch-hole or zero-range of [offset, offset + length), size kept
    kSync,      // fdatasync or fsync returned: everything before is on stable storage
  };
  Kind kind = Kind::kSync;
  uint64_t offset = 0;
  uint64_t length = 0;
  std::vector<uint8_t> data;
};

struct HostIoRecord {
  std::vector<HostOp> ops;
  // Calls on the file that the journal cannot replay (write(), pwritev(), an
  // fallocate mode that changes the size): a power cut model built without
  // them would be wrong, so a test must fail on any.
  std::vector<std::string> unmodeled;
};

// Starts journaling every operation on the file at `path` (through any
// descriptor); false when it cannot be found. One journal at a time.
bool start_host_io_journal(const std::string& path);
// How many operations are journaled so far: the position of the next one.
size_t host_io_journal_position();
// Stops journaling and hands over what was recorded.
HostIoRecord stop_host_io_journal();

}  // namespace vessel::block::testing
