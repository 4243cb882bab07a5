// The qcow2 on-disk format: field offsets, flag bits and limits, each with the
// clause of the qcow2 specification (QEMU docs/interop/qcow2.txt) it follows.
// Everything on disk is big-endian; the helpers below convert.
#pragma once

#include <cstdint>
#include <cstring>

namespace vessel::block::qcow2 {

// "== Header ==": magic "QFI\xfb".
constexpr uint32_t kMagic = 0x514649fb;

// Header field offsets, "== Header ==" bytes 0-103 and "Additional fields".
namespace field {
constexpr uint32_t kMagic = 0;
constexpr uint32_t kVersion = 4;
constexpr uint32_t kBackingFileOffset = 8;
constexpr uint32_t kBackingFileSize = 16;
constexpr uint32_t kClusterBits = 20;
constexpr uint32_t kSize = 24;
constexpr uint32_t kCryptMethod = 32;
constexpr uint32_t kL1Size = 36;
constexpr uint32_t kL1TableOffset = 40;
constexpr uint32_t kRefcountTableOffset = 48;
constexpr uint32_t kRefcountTableClusters = 56;
constexpr uint32_t kNbSnapshots = 60;
constexpr uint32_t kSnapshotsOffset = 64;
constexpr uint32_t kIncompatibleFeatures = 72;
constexpr uint32_t kCompatibleFeatures = 80;
constexpr uint32_t kAutoclearFeatures = 88;
constexpr uint32_t kRefcountOrder = 96;
constexpr uint32_t kHeaderLength = 100;
constexpr uint32_t kCompressionType = 104;
}  // namespace field

// "For version 2, the header is exactly 72 bytes"; version 3 at least 104.
constexpr uint32_t kHeaderLengthV2 = 72;
constexpr uint32_t kMinHeaderLengthV3 = 104;
// The header we write for version 3: through compression_type, padded to 8.
constexpr uint32_t kHeaderLengthV3 = 112;

// "cluster_bits ... Must not be less than 9"; 2 MiB is the interoperable maximum.
constexpr uint32_t kMinClusterBits = 9;
constexpr uint32_t kMaxClusterBits = 21;

// incompatible_features bits.
constexpr uint64_t kIncompatDirty = uint64_t{1} << 0;
constexpr uint64_t kIncompatCorrupt = uint64_t{1} << 1;
constexpr uint64_t kIncompatExternalData = uint64_t{1} << 2;
constexpr uint64_t kIncompatCompressionType = uint64_t{1} << 3;
constexpr uint64_t kIncompatExtendedL2 = uint64_t{1} << 4;
// The incompatible features this implementation handles (all known ones).
constexpr uint64_t kIncompatSupported = kIncompatDirty | kIncompatCorrupt | kIncompatExternalData |
                                        kIncompatCompressionType | kIncompatExtendedL2;

// compatible_features bits.
constexpr uint64_t kCompatLazyRefcounts = uint64_t{1} << 0;

// autoclear_features bits.
constexpr uint64_t kAutoclearBitmaps = uint64_t{1} << 0;
constexpr uint64_t kAutoclearRawExternalData = uint64_t{1} << 1;

// "refcount_order ... may not exceed 6"; version 2 always uses 4.
constexpr uint32_t kMaxRefcountOrder = 6;
constexpr uint32_t kDefaultRefcountOrder = 4;

// "backing_file_size ... Must not be longer than 1023 bytes"; the same
// limit applies here to the external data file name.
constexpr uint32_t kMaxBackingFileNameLength = 1023;

// compression_type values.
enum class CompressionType : uint8_t { kZlib = 0, kZstd = 1 };

// "=== Header extensions ===" types.
namespace ext {
constexpr uint32_t kEnd = 0x00000000;
constexpr uint32_t kBackingFormat = 0xe2792aca;
constexpr uint32_t kFeatureTable = 0x6803f857;
constexpr uint32_t kBitmaps = 0x23852875;
constexpr uint32_t kCryptoHeader = 0x0537be77;
constexpr uint32_t kExternalDataFile = 0x44415441;
}  // namespace ext

// "== Feature name table ==": 48-byte entries.
constexpr uint32_t kFeatureTableEntrySize = 48;
constexpr uint32_t kFeatureNameLength = 46;
enum class FeatureType : uint8_t { kIncompatible = 0, kCompatible = 1, kAutoclear = 2 };

// "L1 table entry": bits 9-55 offset, bit 63 "refcount is exactly one".
constexpr uint64_t kL1OffsetMask = 0x00fffffffffffe00;
constexpr uint64_t kL1ReservedMask = 0x7f000000000001ff;

// "L2 table entry": bit 62 compressed, bit 63 copied (refcount exactly one).
constexpr uint64_t kOflagCopied = uint64_t{1} << 63;
constexpr uint64_t kOflagCompressed = uint64_t{1} << 62;
// "Standard Cluster Descriptor": bit 0 reads as zeros (version 3), bits 9-55 offset.
constexpr uint64_t kOflagZero = uint64_t{1} << 0;
constexpr uint64_t kL2OffsetMask = 0x00fffffffffffe00;
constexpr uint64_t kL2StandardReservedMask = 0x3f000000000001fe;

// "Extended L2 Entries": 32 subclusters per cluster; the second 64 bits of an
// entry hold "Allocation status" in bits 0-31 and "Subcluster reads as zeros"
// in bits 32-63, bit x for subcluster x. Subclusters are at least 512 bytes,
// so clusters at least 16 KiB.
constexpr uint32_t kSubclustersPerCluster = 32;
constexpr uint64_t kSubclusterAllocMask = 0xffffffff;
constexpr uint64_t kSubclusterZeroMask = 0xffffffff00000000;
constexpr uint32_t kMinExtendedL2ClusterBits = 14;

// The allocation bits of subclusters [first, end) (end at most 32); shifted
// left by 32 they are the "reads as zeros" bits of the same subclusters.
inline uint64_t subcluster_alloc_bits(uint64_t first, uint64_t end) {
  return end <= first ? 0 : ((uint64_t{1} << (end - first)) - 1) << first;
}
inline uint64_t subcluster_zero_bits(uint64_t first, uint64_t end) {
  return subcluster_alloc_bits(first, end) << kSubclustersPerCluster;
}

// "Refcount table entry": bits 9-63 offset, 0-8 reserved.
constexpr uint64_t kRefcountTableOffsetMask = 0xfffffffffffffe00;

// "Compressed Clusters Descriptor": sizes are counted in 512-byte sectors.
constexpr uint64_t kCompressedSectorSize = 512;

// Limits that keep an untrusted image from asking for huge allocations; they
// match what QEMU accepts, so every image it writes opens here too.
constexpr uint64_t kMaxL1Bytes = uint64_t{32} << 20;
constexpr uint64_t kMaxRefcountTableBytes = uint64_t{8} << 20;
constexpr uint32_t kMaxSnapshots = 65536;
constexpr uint32_t kMaxSnapshotExtraData = 1024;
constexpr uint64_t kMaxSnapshotTableBytes = uint64_t{64} << 20;
// "Snapshot table entry": the fixed part before extra data, and the extra
// data this implementation knows (vm_state_size_large, disk_size, icount).
constexpr uint32_t kSnapshotEntryFixedSize = 40;
constexpr uint32_t kSnapshotKnownExtraData = 24;
// "If the image is of version 3 or higher, this field [extra data size] must
// be at least 16": vm_state_size_large and disk_size are then mandatory.
constexpr uint32_t kSnapshotV3MinExtraData = 16;
// A backing chain deeper than this is refused rather than followed.
constexpr uint32_t kMaxBackingChainDepth = 64;

inline uint16_t load_be16(const uint8_t* p) {
  return static_cast<uint16_t>((p[0] << 8) | p[1]);
}
inline uint32_t load_be32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}
inline uint64_t load_be64(const uint8_t* p) {
  return (uint64_t{load_be32(p)} << 32) | load_be32(p + 4);
}
inline void store_be16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
inline void store_be32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (24 - 8 * i));
}
inline void store_be64(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<uint8_t>(v >> (56 - 8 * i));
}

// qcow2 spec, "Refcount block entry (x = refcount_bits - 1): Bit 0 - x:
// Reference count"; sub-byte widths count bit 0 as the least significant bit.
inline uint64_t load_refcount(const uint8_t* block, uint64_t index, uint32_t refcount_bits) {
  if (refcount_bits >= 8) {
    const uint32_t bytes = refcount_bits / 8;
    const uint8_t* p = block + index * bytes;
    uint64_t value = 0;
    for (uint32_t i = 0; i < bytes; ++i) value = (value << 8) | p[i];
    return value;
  }
  const uint64_t bit = index * refcount_bits;
  return (block[bit / 8] >> (bit % 8)) & ((1u << refcount_bits) - 1);
}

inline uint64_t round_up(uint64_t value, uint64_t alignment) {
  return (value + alignment - 1) / alignment * alignment;
}
inline uint64_t div_round_up(uint64_t value, uint64_t divisor) {
  return value / divisor + (value % divisor != 0 ? 1 : 0);
}

// Geometry derived from the header: everything that depends on cluster_bits.
struct Geometry {
  uint32_t cluster_bits = 16;
  bool extended_l2 = false;
  uint64_t cluster_size() const { return uint64_t{1} << cluster_bits; }
  // 8 bytes, or 16 with extended L2 entries (descriptor, subcluster bitmap).
  uint64_t l2_entry_bytes() const { return extended_l2 ? 16 : 8; }
  // "l2_entries = (cluster_size / sizeof(uint64_t))", or
  // "(cluster_size / (2 * sizeof(uint64_t)))" with extended L2 entries.
  uint64_t l2_entries() const { return cluster_size() / l2_entry_bytes(); }
  // The unit of allocation inside a cluster (the cluster without subclusters).
  uint64_t subcluster_size() const {
    return extended_l2 ? cluster_size() / kSubclustersPerCluster : cluster_size();
  }
  // Guest bytes covered by one L1 entry.
  uint64_t l1_entry_span() const { return cluster_size() * l2_entries(); }
  // "Compressed Clusters Descriptor (x = 62 - (cluster_bits - 8))"
  uint32_t compressed_offset_bits() const { return 62 - (cluster_bits - 8); }
  uint64_t compressed_offset_mask() const { return (uint64_t{1} << compressed_offset_bits()) - 1; }
  uint64_t compressed_sectors_mask() const { return (uint64_t{1} << (cluster_bits - 8)) - 1; }
  bool aligned(uint64_t offset) const { return (offset & (cluster_size() - 1)) == 0; }
  uint64_t cluster_index(uint64_t offset) const { return offset >> cluster_bits; }
};

// A compressed cluster's bytes in the image file: [offset, offset + length).
struct CompressedExtent {
  uint64_t offset;
  uint64_t length;
};

// Decodes a "Compressed Clusters Descriptor" (bits 0-61 of the L2 entry).
inline CompressedExtent compressed_extent(const Geometry& g, uint64_t l2_entry) {
  uint64_t offset = l2_entry & g.compressed_offset_mask();
  uint64_t sectors = ((l2_entry >> g.compressed_offset_bits()) & g.compressed_sectors_mask()) + 1;
  uint64_t end = (offset & ~(kCompressedSectorSize - 1)) + sectors * kCompressedSectorSize;
  return {offset, end - offset};
}

}  // namespace vessel::block::qcow2
