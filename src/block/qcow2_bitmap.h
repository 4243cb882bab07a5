// Persistent dirty bitmaps of a qcow2 image (qcow2 spec, "Bitmaps
// extension", "Bitmap directory", "Bitmap table", "Bitmap data"): read so
// that check counts the clusters they use and info lists them; their bits are
// read and stored for `vessel img bitmap` (Qcow2Image::store_bitmaps), and
// the enabled ones record the guest's writes as QEMU's do
// (qcow2_bitmap_track.cc).
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
// QEMU's limits on what it stores (BME_MIN/MAX_GRANULARITY_BITS,
// BME_MAX_TABLE_SIZE, BME_MAX_PHYS_SIZE), which Vessel keeps so that qemu can
// load every bitmap Vessel writes.
constexpr uint32_t kMinBitmapGranularityBits = 9;
constexpr uint32_t kMaxBitmapGranularityBits = 31;
constexpr uint64_t kMaxBitmapTableEntries = 0x8000000;
constexpr uint64_t kMaxBitmapDataBytes = 0x20000000;
}  // namespace qcow2

struct Qcow2Bitmap {
  std::string name;
  uint32_t flags = 0;
  uint8_t type = 1;  // 1: dirty tracking bitmap
  uint8_t granularity_bits = 16;
  // "extra_data": kept as it is when the entry is rewritten.
  std::vector<uint8_t> extra_data;
  uint64_t table_offset = 0;
  uint32_t table_size = 0;  // entries
  // Where the entry's flags are in the file, for in-place updates.
  uint64_t flags_offset = 0;
  bool in_use() const { return (flags & qcow2::kBitmapInUse) != 0; }
  bool enabled() const { return (flags & qcow2::kBitmapAuto) != 0; }
};

// The bits of one bitmap in memory, as "Bitmap data" lays them out: bit k
// (covering guest bytes [k * granularity, (k + 1) * granularity)) is bit
// k % 8 of byte k / 8; the bits past the disk's end are zero.
struct Qcow2BitmapBits {
  uint8_t granularity_bits = 16;
  uint64_t disk_size = 0;
  std::vector<uint8_t> bytes;

  // All clear.
  static Qcow2BitmapBits empty(uint8_t granularity_bits, uint64_t disk_size);
  uint64_t bit_count() const;
  // Sets every bit covering a byte that `other` (of the same disk size, any
  // granularity) has set: qemu's merge.
  void merge(const Qcow2BitmapBits& other);
  // Sets the bits covering guest bytes [offset, offset + length), which
  // must lie inside the disk.
  void set_range(uint64_t offset, uint64_t length);
  // The bits of a disk of `new_size` bytes, as qemu truncates a bitmap: the
  // bits that still cover a byte of the disk stay, new ones are clear.
  void resize(uint64_t new_size);
};

// Bytes of bitmap data for a disk of `disk_size` bytes.
uint64_t qcow2_bitmap_data_bytes(uint64_t disk_size, uint32_t granularity_bits);

// A bitmap being written (Qcow2Image::store_bitmaps): its directory entry
// and either its stored table, kept as it is, or new bits.
struct Qcow2BitmapEdit {
  Qcow2Bitmap entry;  // table_offset and table_size count only with keep_table
  bool keep_table = true;
  Qcow2BitmapBits bits;  // the data when !keep_table
};

// The bitmap directory for `bitmaps` (their table fields as they stand).
std::vector<uint8_t> encode_qcow2_bitmap_directory(const std::vector<Qcow2Bitmap>& bitmaps);

// The bits of `bitmap`, read through its table: entries without a cluster
// read as zeros, or as ones with bit 0 set ("all bits set"). The table must
// have as many entries as the disk needs.
Result<Qcow2BitmapBits> read_qcow2_bitmap_bits(const HostFile& file, const Qcow2Header& header,
                                               const Qcow2Bitmap& bitmap, uint64_t disk_size);

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
