#include "block/qcow2_bitmap.h"

#include <algorithm>
#include <cstring>

namespace vessel::block {

using namespace qcow2;

Result<std::vector<Qcow2Bitmap>> read_qcow2_bitmaps(const HostFile& file,
                                                    const Qcow2Header& header) {
  std::vector<Qcow2Bitmap> bitmaps;
  const Qcow2BitmapsExtension& ext = header.bitmaps;
  if (!header.bitmaps_valid() || ext.nb_bitmaps == 0) return bitmaps;
  const std::string& path = file.path();
  const Geometry g = header.geometry();
  auto bad = [&](const std::string& why) {
    return Error(path + ": corrupt qcow2 image: bitmap directory: " + why);
  };
  std::vector<uint8_t> dir(ext.directory_size);
  TRY(file.read_padded(ext.directory_offset, dir));
  uint64_t pos = 0;
  for (uint32_t i = 0; i < ext.nb_bitmaps; ++i) {
    if (dir.size() - pos < kBitmapDirectoryEntryFixedSize) return bad("entries run past its end");
    const uint8_t* e = &dir[pos];
    Qcow2Bitmap b;
    b.table_offset = load_be64(e);
    b.table_size = load_be32(e + 8);
    b.flags = load_be32(e + 12);
    b.type = e[16];
    b.granularity_bits = e[17];
    const uint32_t name_size = load_be16(e + 18);
    const uint32_t extra = load_be32(e + 20);
    b.flags_offset = ext.directory_offset + pos + 12;
    const uint64_t entry_size =
        round_up(uint64_t{kBitmapDirectoryEntryFixedSize} + extra + name_size, 8);
    if (name_size == 0 || name_size > kMaxBitmapNameLength || entry_size > dir.size() - pos) {
      return bad("entry " + std::to_string(i) + " is malformed");
    }
    b.extra_data.assign(e + kBitmapDirectoryEntryFixedSize,
                        e + kBitmapDirectoryEntryFixedSize + extra);
    b.name.assign(reinterpret_cast<const char*>(e + kBitmapDirectoryEntryFixedSize + extra),
                  name_size);
    if ((b.flags & kBitmapReservedFlags) != 0 || b.type != 1 || b.granularity_bits < 9 ||
        b.granularity_bits > 31) {
      return bad("bitmap '" + b.name + "' has unknown flags, type or granularity");
    }
    if (!g.aligned(b.table_offset) || b.table_offset == 0 || b.table_offset >= file.size() ||
        uint64_t{b.table_size} * 8 > file.size() - b.table_offset + g.cluster_size()) {
      return bad("bitmap '" + b.name + "' has its table outside the file");
    }
    bitmaps.push_back(std::move(b));
    pos += entry_size;
  }
  return bitmaps;
}

Result<std::vector<std::pair<uint64_t, uint64_t>>> qcow2_bitmap_clusters(
    const HostFile& file, const Qcow2Header& header, const std::vector<Qcow2Bitmap>& bitmaps) {
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  if (bitmaps.empty()) return ranges;
  const uint64_t cs = header.geometry().cluster_size();
  ranges.emplace_back(header.bitmaps.directory_offset, header.bitmaps.directory_size);
  for (const Qcow2Bitmap& b : bitmaps) {
    const uint64_t bytes = uint64_t{b.table_size} * 8;
    ranges.emplace_back(b.table_offset, bytes);
    std::vector<uint8_t> table(bytes);
    TRY(file.read_padded(b.table_offset, table));
    for (uint32_t i = 0; i < b.table_size; ++i) {
      const uint64_t entry = load_be64(&table[i * 8]);
      if ((entry & kBitmapTableReservedMask) != 0) {
        return Error(file.path() + ": corrupt qcow2 image: bitmap '" + b.name + "' table entry " +
                     std::to_string(i) + " has reserved bits set");
      }
      const uint64_t offset = entry & kBitmapTableOffsetMask;
      if (offset != 0) ranges.emplace_back(offset, cs);
    }
  }
  return ranges;
}

}  // namespace vessel::block
