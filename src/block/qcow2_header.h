// The qcow2 header cluster: the fixed header, its extensions and the backing
// file name ("== Header ==", "=== Header extensions ===" in the qcow2 spec).
// parse_qcow2_header() is the one place that turns untrusted header bytes into
// checked values; everything after it may rely on the invariants listed on
// Qcow2Header.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/result.h"
#include "block/host_file.h"
#include "block/qcow2_format.h"

namespace vessel::block {

// A header extension this implementation does not know, kept as it was:
// "Unknown header extension, can be safely ignored" — and kept on rewrites,
// as QEMU keeps it.
struct Qcow2UnknownExtension {
  uint32_t type;
  std::vector<uint8_t> data;
};

// "Bitmaps extension": where the bitmap directory is.
struct Qcow2BitmapsExtension {
  uint32_t nb_bitmaps = 0;
  uint64_t directory_size = 0;
  uint64_t directory_offset = 0;
};

struct Qcow2FeatureName {
  qcow2::FeatureType type;
  uint8_t bit;
  std::string name;
};

// Header fields after validation. Invariants: version is 2 or 3; cluster_bits
// in [9, 21]; the L1 table, refcount table and snapshot table are
// cluster-aligned, start inside the file, stay clear of the header cluster and
// are within the size limits of qcow2_format.h (except that there may be no
// refcount table at all: refcount_table_clusters 0, see has_refcount_table()); the L1 table lies
// wholly inside the file and covers `size`; no unsupported incompatible feature is set;
// crypt_method is 0; with the raw external data bit the external data file bit is set too.
struct Qcow2Header {
  uint32_t version = 3;
  uint64_t backing_file_offset = 0;
  uint32_t backing_file_size = 0;
  uint32_t cluster_bits = 16;
  uint64_t size = 0;
  uint32_t crypt_method = 0;
  uint32_t l1_size = 0;
  uint64_t l1_table_offset = 0;
  uint64_t refcount_table_offset = 0;
  uint32_t refcount_table_clusters = 0;
  uint32_t nb_snapshots = 0;
  uint64_t snapshots_offset = 0;
  uint64_t incompatible_features = 0;
  uint64_t compatible_features = 0;
  uint64_t autoclear_features = 0;
  uint32_t refcount_order = qcow2::kDefaultRefcountOrder;
  uint32_t header_length = qcow2::kHeaderLengthV3;
  qcow2::CompressionType compression_type = qcow2::CompressionType::kZlib;

  std::string backing_file;    // empty: no backing file
  std::string backing_format;  // empty: no backing-format extension
  // "External data file name string" (empty: none), kept whether or not the
  // external data file bit is set, since a header rewrite must keep it.
  std::string data_file;
  bool has_bitmaps_extension = false;
  Qcow2BitmapsExtension bitmaps{};
  std::vector<Qcow2FeatureName> feature_names;
  std::vector<Qcow2UnknownExtension> unknown_extensions;

  qcow2::Geometry geometry() const {
    return {cluster_bits, (incompatible_features & qcow2::kIncompatExtendedL2) != 0};
  }
  uint32_t refcount_bits() const { return 1u << refcount_order; }
  // The bitmaps extension is there and may be trusted: "If [the autoclear
  // bitmaps bit is] not set, the bitmaps extension data must be considered
  // inconsistent."
  bool bitmaps_valid() const {
    return has_bitmaps_extension && (autoclear_features & qcow2::kAutoclearBitmaps) != 0;
  }
  // False when the header names no refcount table (refcount_table_clusters
  // 0): such an image can only be checked, and repaired by building one.
  bool has_refcount_table() const { return refcount_table_clusters != 0; }
  bool external_data() const { return (incompatible_features & qcow2::kIncompatExternalData) != 0; }
  // "Raw external data bit": the data file alone is a valid raw image.
  bool data_file_raw() const {
    return (autoclear_features & qcow2::kAutoclearRawExternalData) != 0;
  }
};

// Reads and validates the header cluster of `file`. Every error names the file.
Result<Qcow2Header> parse_qcow2_header(const HostFile& file);

// The header cluster for a new image: header, backing-format extension,
// external data file name (with the external data file bit), feature name
// table (left out of clusters of 4 KiB or less, as QEMU does), a valid
// bitmaps extension, unknown extensions, end marker, then the backing file
// name. Sets
// backing_file_offset/size and header_length in `header`.
Result<std::vector<uint8_t>> build_qcow2_header(Qcow2Header& header);

// "bit 5 (\"name\"), bit 9" for the set bits of `bits`, with names from the
// image's feature name table where it has them.
std::string describe_qcow2_features(uint64_t bits, qcow2::FeatureType type,
                                    const std::vector<Qcow2FeatureName>& names);

}  // namespace vessel::block
