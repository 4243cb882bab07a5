#include "guest_model.h"

#include <algorithm>
#include <cstring>

#include "block/qcow2_format.h"

namespace vessel::block::testing {
namespace {

// A sector of write `writer` at guest sector `index`: (writer, index) as two
// big-endian 64-bit words, repeated.
constexpr uint64_t kPatternBytes = 16;

std::string describe(uint64_t writer) {
  return writer == 0 ? "zeros" : "write #" + std::to_string(writer);
}

}  // namespace

void GuestModel::record(uint64_t offset, uint64_t length, size_t position, uint64_t writer) {
  size_t event = next_event_++;
  for (uint64_t s = offset / kGuestSectorSize; s < (offset + length) / kGuestSectorSize; ++s) {
    history_[s].push_back({event, position, writer});
  }
}

void GuestModel::write(uint64_t offset, std::span<uint8_t> data, size_t position) {
  uint64_t writer = next_writer_++;
  for (uint64_t done = 0; done < data.size(); done += kPatternBytes) {
    qcow2::store_be64(&data[done], writer);
    qcow2::store_be64(&data[done + 8], (offset + done) / kGuestSectorSize);
  }
  record(offset, data.size(), position, writer);
}

void GuestModel::zero(uint64_t offset, uint64_t length, size_t position) {
  record(offset, length, position, 0);
}

void GuestModel::flush_done(size_t position) {
  flushes_.push_back({next_event_++, position});
}

bool GuestModel::decode(std::span<const uint8_t> sector, uint64_t index, uint64_t* writer) {
  // One 16-byte unit repeated: each byte equals the one 16 bytes before it.
  if (std::memcmp(sector.data() + kPatternBytes, sector.data(), sector.size() - kPatternBytes) !=
      0) {
    return false;
  }
  *writer = qcow2::load_be64(&sector[0]);
  uint64_t named = qcow2::load_be64(&sector[8]);
  return *writer == 0 ? named == 0 : named == index;
}

uint64_t GuestModel::writer_before(const std::vector<Change>& changes, size_t event) {
  uint64_t writer = 0;
  for (const Change& c : changes) {
    if (c.event >= event) break;
    writer = c.writer;
  }
  return writer;
}

std::string GuestModel::verify(std::span<const uint8_t> disk, size_t position) const {
  // The last flush that returned before the cut: every request before it is
  // promised (with no such flush, none is: the disk was all zeros).
  size_t promised = 0;
  for (const auto& [event, at] : flushes_) {
    if (at <= position) promised = event;
  }
  for (uint64_t s = 0; s < history_.size(); ++s) {
    auto sector = disk.subspan(s * kGuestSectorSize, kGuestSectorSize);
    uint64_t found;
    if (!decode(sector, s, &found)) {
      return "guest sector " + std::to_string(s) + " holds data no request wrote there";
    }
    const std::vector<Change>& changes = history_[s];
    uint64_t flushed = writer_before(changes, promised);
    if (found == flushed) continue;
    bool later = std::any_of(changes.begin(), changes.end(), [&](const Change& c) {
      return c.event >= promised && c.position <= position && c.writer == found;
    });
    if (!later) {
      return "guest sector " + std::to_string(s) + " holds " + describe(found) +
             ", but the flush " + "that returned before the cut made it " + describe(flushed) +
             " and no later request wrote " + describe(found) + " there";
    }
  }
  return "";
}

std::string GuestModel::verify_exact(std::span<const uint8_t> disk, size_t when) const {
  for (uint64_t s = 0; s < history_.size(); ++s) {
    uint64_t found;
    auto sector = disk.subspan(s * kGuestSectorSize, kGuestSectorSize);
    uint64_t expected = writer_before(history_[s], when);
    if (!decode(sector, s, &found) || found != expected) {
      return "guest sector " + std::to_string(s) + " is not " + describe(expected);
    }
  }
  return "";
}

}  // namespace vessel::block::testing
