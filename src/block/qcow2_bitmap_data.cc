// The bits of qcow2 persistent dirty bitmaps in memory, and the on-disk
// encodings Vessel writes (qcow2 spec "Bitmap directory", "Bitmap data").
#include <algorithm>

#include "block/qcow2_bitmap.h"

namespace vessel::block {

using namespace qcow2;

uint64_t qcow2_bitmap_data_bytes(uint64_t disk_size, uint32_t granularity_bits) {
  const uint64_t bits = div_round_up(disk_size, uint64_t{1} << granularity_bits);
  return div_round_up(bits, 8);
}

Qcow2BitmapBits Qcow2BitmapBits::empty(uint8_t granularity_bits, uint64_t disk_size) {
  Qcow2BitmapBits b;
  b.granularity_bits = granularity_bits;
  b.disk_size = disk_size;
  b.bytes.assign(qcow2_bitmap_data_bytes(disk_size, granularity_bits), 0);
  return b;
}

uint64_t Qcow2BitmapBits::bit_count() const {
  return div_round_up(disk_size, uint64_t{1} << granularity_bits);
}

void Qcow2BitmapBits::merge(const Qcow2BitmapBits& other) {
  if (other.granularity_bits == granularity_bits) {
    const size_t n = std::min(bytes.size(), other.bytes.size());
    for (size_t i = 0; i < n; ++i) bytes[i] |= other.bytes[i];
    return;
  }
  // Each set bit of `other` covers a byte range; set the bits here that
  // cover any part of it.
  const uint64_t count = std::min(other.bit_count(), uint64_t{other.bytes.size()} * 8);
  for (uint64_t k = 0; k < count; ++k) {
    if (other.bytes[k / 8] == 0) {
      k |= 7;  // a clear byte: on to the next
      continue;
    }
    if (((other.bytes[k / 8] >> (k % 8)) & 1) == 0) continue;
    const uint64_t start = k << other.granularity_bits;
    const uint64_t end = std::min(disk_size, (k + 1) << other.granularity_bits);
    if (start >= end) break;
    for (uint64_t j = start >> granularity_bits; j <= (end - 1) >> granularity_bits; ++j) {
      bytes[j / 8] = static_cast<uint8_t>(bytes[j / 8] | (1u << (j % 8)));
    }
  }
}

void Qcow2BitmapBits::set_range(uint64_t offset, uint64_t length) {
  if (length == 0) return;
  uint64_t k = offset >> granularity_bits;
  const uint64_t last = (offset + length - 1) >> granularity_bits;
  // Single bits up to a byte boundary, whole bytes, then the rest.
  for (; k <= last && k % 8 != 0; ++k)
    bytes[k / 8] = static_cast<uint8_t>(bytes[k / 8] | (1u << (k % 8)));
  if (k + 8 <= last + 1) {
    const uint64_t whole = (last + 1 - k) / 8;
    std::fill_n(bytes.begin() + static_cast<ptrdiff_t>(k / 8), whole, uint8_t{0xff});
    k += whole * 8;
  }
  for (; k <= last; ++k) bytes[k / 8] = static_cast<uint8_t>(bytes[k / 8] | (1u << (k % 8)));
}

void Qcow2BitmapBits::resize(uint64_t new_size) {
  disk_size = new_size;
  bytes.resize(qcow2_bitmap_data_bytes(new_size, granularity_bits), 0);
  // "These bits must be zero": those of a shrunk bitmap's last byte past its end.
  const uint64_t used = bit_count() % 8;
  if (used != 0 && !bytes.empty()) {
    bytes.back() = static_cast<uint8_t>(bytes.back() & ((1u << used) - 1));
  }
}

std::vector<uint8_t> encode_qcow2_bitmap_directory(const std::vector<Qcow2Bitmap>& bitmaps) {
  std::vector<uint8_t> dir;
  for (const Qcow2Bitmap& b : bitmaps) {
    const size_t pos = dir.size();
    const uint64_t entry_size =
        round_up(uint64_t{kBitmapDirectoryEntryFixedSize} + b.extra_data.size() + b.name.size(), 8);
    dir.resize(pos + entry_size, 0);  // "All bytes of the padding must be zero."
    uint8_t* e = &dir[pos];
    store_be64(e, b.table_offset);
    store_be32(e + 8, b.table_size);
    store_be32(e + 12, b.flags);
    e[16] = b.type;
    e[17] = b.granularity_bits;
    store_be16(e + 18, static_cast<uint16_t>(b.name.size()));
    store_be32(e + 20, static_cast<uint32_t>(b.extra_data.size()));
    std::copy(b.extra_data.begin(), b.extra_data.end(), e + kBitmapDirectoryEntryFixedSize);
    std::copy(b.name.begin(), b.name.end(),
              e + kBitmapDirectoryEntryFixedSize + b.extra_data.size());
  }
  return dir;
}

Result<Qcow2BitmapBits> read_qcow2_bitmap_bits(const HostFile& file, const Qcow2Header& header,
                                               const Qcow2Bitmap& bitmap, uint64_t disk_size) {
  const uint64_t cs = header.geometry().cluster_size();
  Qcow2BitmapBits bits = Qcow2BitmapBits::empty(bitmap.granularity_bits, disk_size);
  const uint64_t needed = div_round_up(bits.bytes.size(), cs);
  auto bad = [&](const std::string& why) {
    return Error(file.path() + ": corrupt qcow2 image: bitmap '" + bitmap.name + "' " + why);
  };
  if (bitmap.table_size != needed) {
    return bad("has a table of " + std::to_string(bitmap.table_size) + " entries; the disk needs " +
               std::to_string(needed));
  }
  std::vector<uint8_t> table(needed * 8);
  TRY(file.read(bitmap.table_offset, table));
  for (uint64_t i = 0; i < needed; ++i) {
    const uint64_t entry = load_be64(&table[i * 8]);
    const uint64_t offset = entry & kBitmapTableOffsetMask;
    if ((entry & kBitmapTableReservedMask) != 0 || (offset != 0 && (entry & 1) != 0)) {
      return bad("table entry " + std::to_string(i) + " has reserved bits set");
    }
    const uint64_t start = i * cs;
    std::span<uint8_t> piece =
        std::span<uint8_t>(bits.bytes).subspan(start, std::min(cs, bits.bytes.size() - start));
    if (offset != 0) {
      if (offset % cs != 0 || offset >= file.size()) {
        return bad("table entry " + std::to_string(i) + " points outside the file");
      }
      TRY(file.read_padded(offset, piece));
    } else if ((entry & 1) != 0) {
      std::fill(piece.begin(), piece.end(), uint8_t{0xff});  // "all ones"
    }
  }
  // "These bits must be zero": whatever the file says, past the end they are.
  bits.resize(disk_size);
  return bits;
}

}  // namespace vessel::block
