// Persistent dirty bitmaps of a qcow2 image (qcow2 spec, "Bitmaps
// extension", "Bitmap directory", "Bitmap table"): read so that check
// counts the clusters they use, info lists them, and a write marks the
// enabled ones in use (qemu's "inconsistent") rather than leaving them
// silently wrong. Vessel does not track dirty regions itself.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/result.h"
#include "block/host_file.h"
#include "block/qcow2_header.h"

namespace vessel::block {

namespace qcow2 {
// "Bitmap directory entry" flags.
constexpr uint32_t kBitmapInUse = 1u << 0;
constexpr uint32_t kBitmapAuto = 1u << 1;
constexpr uint32_t kBitmapExtraDataCompatible = 1u << 2;
constexpr uint32_t kBitmapReservedFlags = ~uint32_t{7};
// "Bitmap table entry": bits 9-55 offset; bit 0, with offset 0: "all bits set".
constexpr uint64_t kBitmapTableOffsetMask = 0x00fffffffffffe00;
constexpr uint64_t kBitmapTableReservedMask = 0xff000000000001fe;
constexpr uint32_t kBitmapDirectoryEntryFixedSize = 24;
constexpr uint32_t kMaxBitmaps = 65535;
constexpr uint64_t kMaxBitmapDirectoryBytes = uint64_t{64} << 20;
constexpr uint32_t kMaxBitmapNameLength = 1023;
}  // namespace qcow2

struct Qcow2Bitmap {
  std::string name;
  uint32_t flags = 0;
  uint8_t type = 1;  // 1: dirty tracking bitmap
  uint8_t granularity_bits = 16;
  uint64_t table_offset = 0;
  uint32_t table_size = 0;  // entries
  // Where the entry's flags are in the file, for in-place updates.
  uint64_t flags_offset = 0;
  bool in_use() const { return (flags & qcow2::kBitmapInUse) != 0; }
  bool enabled() const { return (flags & qcow2::kBitmapAuto) != 0; }
};

// The bitmaps the header's bitmaps extension lists; none when it has none,
// or when the autoclear "bitmaps" bit is clear (then "the bitmaps extension
// data must be considered inconsistent", and qemu ignores it). Entries are
// checked: sizes, alignment, names, each table inside the file.
Result<std::vector<Qcow2Bitmap>> read_qcow2_bitmaps(const HostFile& file,
                                                    const Qcow2Header& header);

// Every host cluster the bitmaps use (directory, tables, and the clusters
// the tables point to), as (offset, length) ranges; the table entries are
// read from the file.
Result<std::vector<std::pair<uint64_t, uint64_t>>> qcow2_bitmap_clusters(
    const HostFile& file, const Qcow2Header& header, const std::vector<Qcow2Bitmap>& bitmaps);

}  // namespace vessel::block
