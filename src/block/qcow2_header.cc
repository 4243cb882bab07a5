#include "block/qcow2_header.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

namespace vessel::block {

using namespace qcow2;

namespace {

// The names this implementation writes into the feature name table; also used
// to describe bits of images that carry no table.
struct KnownFeature {
  FeatureType type;
  uint8_t bit;
  const char* name;
};
constexpr KnownFeature kKnownFeatures[] = {
    {FeatureType::kIncompatible, 0, "dirty bit"},
    {FeatureType::kIncompatible, 1, "corrupt bit"},
    {FeatureType::kIncompatible, 2, "external data file"},
    {FeatureType::kIncompatible, 3, "compression type"},
    {FeatureType::kIncompatible, 4, "extended L2 entries"},
    {FeatureType::kCompatible, 0, "lazy refcounts"},
    {FeatureType::kAutoclear, 0, "bitmaps"},
    {FeatureType::kAutoclear, 1, "raw external data"},
};

std::string hex(uint64_t value) {
  char buf[24];
  snprintf(buf, sizeof(buf), "0x%llx", static_cast<unsigned long long>(value));
  return buf;
}

// Checks that a cluster-aligned table of `bytes` bytes at `offset` starts in
// the file and stays clear of the header cluster.
Result<void> check_table(const std::string& path, const char* what, const Geometry& g,
                         uint64_t offset, uint64_t bytes, uint64_t file_size) {
  if (!g.aligned(offset)) {
    return Error(path + ": corrupt qcow2 image: " + what + " offset " + hex(offset) +
                 " is not aligned to the cluster size");
  }
  if (offset < g.cluster_size()) {
    return Error(path + ": corrupt qcow2 image: " + what + " overlaps the header");
  }
  if (offset >= file_size || bytes > file_size - offset + g.cluster_size()) {
    return Error(path + ": corrupt qcow2 image: " + what + " at offset " + hex(offset) + " (" +
                 std::to_string(bytes) + " bytes) lies beyond the end of the file");
  }
  return Ok();
}

bool ranges_overlap(uint64_t a, uint64_t a_len, uint64_t b, uint64_t b_len) {
  return a_len > 0 && b_len > 0 && a < b + b_len && b < a + a_len;
}

Result<void> parse_extensions(const std::string& path, const std::vector<uint8_t>& cluster,
                              uint64_t start, uint64_t end, Qcow2Header& h) {
  bool seen_backing_format = false;
  bool seen_feature_table = false;
  bool seen_data_file = false;
  uint64_t pos = start;
  // Each extension takes at least 8 bytes, which bounds the loop.
  while (pos + 8 <= end) {
    uint32_t type = load_be32(&cluster[pos]);
    uint32_t length = load_be32(&cluster[pos + 4]);
    pos += 8;
    if (type == ext::kEnd) return Ok();
    if (length > end - pos) {
      return Error(path + ": corrupt qcow2 image: header extension " + hex(type) + " of " +
                   std::to_string(length) + " bytes runs past the header area");
    }
    const uint8_t* data = &cluster[pos];
    switch (type) {
      case ext::kBackingFormat:
        if (seen_backing_format) {
          return Error(path + ": corrupt qcow2 image: two backing-format header extensions");
        }
        seen_backing_format = true;
        if (length == 0 || length > 16) {
          return Error(path + ": corrupt qcow2 image: backing-format extension of " +
                       std::to_string(length) + " bytes");
        }
        h.backing_format.assign(reinterpret_cast<const char*>(data), length);
        break;
      case ext::kFeatureTable:
        if (seen_feature_table) {
          return Error(path + ": corrupt qcow2 image: two feature name tables");
        }
        seen_feature_table = true;
        for (uint32_t i = 0; i + kFeatureTableEntrySize <= length; i += kFeatureTableEntrySize) {
          const char* name = reinterpret_cast<const char*>(data + i + 2);
          h.feature_names.push_back({static_cast<FeatureType>(data[i]), data[i + 1],
                                     std::string(name, strnlen(name, kFeatureNameLength))});
        }
        break;
      case ext::kBitmaps:
        // "nb_bitmaps ... reserved ... bitmap_directory_size ...
        // bitmap_directory_offset", checked further only when the autoclear
        // bit says the extension is valid.
        h.has_bitmaps_extension = true;
        if (length >= 24) {
          h.bitmaps.nb_bitmaps = load_be32(data);
          h.bitmaps.directory_size = load_be64(data + 8);
          h.bitmaps.directory_offset = load_be64(data + 16);
        }
        break;
      case ext::kExternalDataFile:
        // "String header extensions": the length is the string length, no
        // terminating NUL.
        if (seen_data_file) {
          return Error(path + ": corrupt qcow2 image: two external data file name extensions");
        }
        seen_data_file = true;
        if (length == 0 || length > kMaxBackingFileNameLength) {
          return Error(path + ": corrupt qcow2 image: external data file name of " +
                       std::to_string(length) + " bytes");
        }
        h.data_file.assign(reinterpret_cast<const char*>(data), length);
        if (h.data_file.find('\0') != std::string::npos) {
          return Error(path + ": corrupt qcow2 image: external data file name contains a NUL byte");
        }
        break;
      default:
        // "other - Unknown header extension, can be safely ignored"
        h.unknown_extensions.push_back({type, std::vector<uint8_t>(data, data + length)});
        break;
    }
    pos += round_up(length, 8);
  }
  return Ok();
}

}  // namespace

std::string describe_qcow2_features(uint64_t bits, FeatureType type,
                                    const std::vector<Qcow2FeatureName>& names) {
  std::string out;
  for (uint32_t bit = 0; bit < 64; ++bit) {
    if ((bits & (uint64_t{1} << bit)) == 0) continue;
    if (!out.empty()) out += ", ";
    out += "bit " + std::to_string(bit);
    std::string name;
    for (const auto& n : names) {
      if (n.type == type && n.bit == bit) name = n.name;
    }
    for (const auto& k : kKnownFeatures) {
      if (name.empty() && k.type == type && k.bit == bit) name = k.name;
    }
    if (!name.empty()) out += " (\"" + name + "\")";
  }
  return out;
}

Result<Qcow2Header> parse_qcow2_header(const HostFile& file) {
  const std::string& path = file.path();
  uint64_t file_size = file.size();
  if (file_size < kHeaderLengthV2) return Error(path + ": not a qcow2 image (file too short)");
  uint8_t fixed[kMinHeaderLengthV3] = {};
  TRY(file.read_padded(0, fixed));
  if (load_be32(fixed + field::kMagic) != kMagic) {
    return Error(path + ": Image is not in qcow2 format (not a qcow2 image: bad magic)");
  }
  Qcow2Header h;
  h.version = load_be32(fixed + field::kVersion);
  if (h.version != 2 && h.version != 3) {
    return Error(path + ": unsupported qcow2 version " + std::to_string(h.version));
  }
  h.backing_file_offset = load_be64(fixed + field::kBackingFileOffset);
  h.backing_file_size = load_be32(fixed + field::kBackingFileSize);
  h.cluster_bits = load_be32(fixed + field::kClusterBits);
  h.size = load_be64(fixed + field::kSize);
  h.crypt_method = load_be32(fixed + field::kCryptMethod);
  h.l1_size = load_be32(fixed + field::kL1Size);
  h.l1_table_offset = load_be64(fixed + field::kL1TableOffset);
  h.refcount_table_offset = load_be64(fixed + field::kRefcountTableOffset);
  h.refcount_table_clusters = load_be32(fixed + field::kRefcountTableClusters);
  h.nb_snapshots = load_be32(fixed + field::kNbSnapshots);
  h.snapshots_offset = load_be64(fixed + field::kSnapshotsOffset);

  if (h.cluster_bits < kMinClusterBits || h.cluster_bits > kMaxClusterBits) {
    return Error(path + ": unsupported qcow2 cluster size (cluster_bits " +
                 std::to_string(h.cluster_bits) + "; 9 to 21 are supported)");
  }
  Geometry g = h.geometry();
  if (h.version == 2) {
    h.header_length = kHeaderLengthV2;
    h.refcount_order = kDefaultRefcountOrder;
  } else {
    if (file_size < kMinHeaderLengthV3) return Error(path + ": truncated qcow2 header");
    h.incompatible_features = load_be64(fixed + field::kIncompatibleFeatures);
    h.compatible_features = load_be64(fixed + field::kCompatibleFeatures);
    h.autoclear_features = load_be64(fixed + field::kAutoclearFeatures);
    h.refcount_order = load_be32(fixed + field::kRefcountOrder);
    h.header_length = load_be32(fixed + field::kHeaderLength);
    if (h.header_length < kMinHeaderLengthV3 || h.header_length % 8 != 0 ||
        h.header_length > g.cluster_size()) {
      return Error(path + ": corrupt qcow2 image: invalid header length " +
                   std::to_string(h.header_length));
    }
    if (h.refcount_order > kMaxRefcountOrder) {
      return Error(path + ": corrupt qcow2 image: refcount_order " +
                   std::to_string(h.refcount_order) + " is larger than 6");
    }
  }
  if (file_size < h.header_length) return Error(path + ": truncated qcow2 header");

  // The whole header cluster, as far as the file reaches.
  std::vector<uint8_t> cluster(g.cluster_size());
  TRY(file.read_padded(0, cluster));
  uint64_t cluster_end = std::min<uint64_t>(g.cluster_size(), file_size);

  if (h.header_length > field::kCompressionType) {
    h.compression_type = static_cast<CompressionType>(cluster[field::kCompressionType]);
  }
  // Extensions first: the feature name table helps to name unknown bits.
  uint64_t ext_end = cluster_end;
  if (h.backing_file_offset != 0 && h.backing_file_offset > h.header_length) {
    ext_end = std::min(ext_end, h.backing_file_offset);
  }
  TRY(parse_extensions(path, cluster, h.header_length, ext_end, h));

  if (uint64_t unknown = h.incompatible_features & ~kIncompatSupported; unknown != 0) {
    return Error(path + ": qcow2 image uses unknown incompatible features: " +
                 describe_qcow2_features(unknown, FeatureType::kIncompatible, h.feature_names));
  }
  // "This bit may only be set if the External Data File bit ... is also set."
  if (h.data_file_raw() && !h.external_data()) {
    return Error(path + ": corrupt qcow2 image: data-file-raw requires a data file");
  }
  if ((h.incompatible_features & kIncompatExtendedL2) != 0 &&
      h.cluster_bits < kMinExtendedL2ClusterBits) {
    return Error(path + ": corrupt qcow2 image: extended L2 entries need clusters of at least " +
                 "16 KiB (cluster_bits " + std::to_string(h.cluster_bits) + ")");
  }
  if (h.crypt_method != 0) {
    const std::string method = h.crypt_method == 1   ? "AES"
                               : h.crypt_method == 2 ? "LUKS"
                                                     : "method " + std::to_string(h.crypt_method);
    return Error(path + ": the image is encrypted (" + method +
                 "); qcow2 encryption is not supported");
  }
  // "compression_type ... If the incompatible bit "Compression type" is set:
  // the field must be present and non-zero. Otherwise ... must be zero".
  if ((h.incompatible_features & kIncompatCompressionType) != 0) {
    if (h.header_length <= field::kCompressionType) {
      return Error(path + ": corrupt qcow2 image: compression type bit set without the field");
    }
    if (h.compression_type != CompressionType::kZstd) {
      return Error(path + ": unsupported qcow2 compression type " +
                   std::to_string(static_cast<int>(h.compression_type)));
    }
  } else if (h.compression_type != CompressionType::kZlib) {
    return Error(path + ": corrupt qcow2 image: compression type " +
                 std::to_string(static_cast<int>(h.compression_type)) +
                 " set without the compression type feature bit");
  }

  // Backing file name: inside the header cluster, after the header.
  if (h.backing_file_offset != 0) {
    if (h.backing_file_size == 0 || h.backing_file_size > kMaxBackingFileNameLength) {
      return Error(path + ": corrupt qcow2 image: backing file name length " +
                   std::to_string(h.backing_file_size) + " is invalid (1 to 1023 bytes)");
    }
    // (The file may be shorter than the name: no unsigned wrap-around.)
    if (h.backing_file_offset < h.header_length || h.backing_file_size > cluster_end ||
        h.backing_file_offset > cluster_end - h.backing_file_size) {
      return Error(path + ": corrupt qcow2 image: backing file name at offset " +
                   hex(h.backing_file_offset) + " lies outside the header cluster");
    }
    h.backing_file.assign(reinterpret_cast<const char*>(&cluster[h.backing_file_offset]),
                          h.backing_file_size);
    if (h.backing_file.find('\0') != std::string::npos) {
      return Error(path + ": corrupt qcow2 image: backing file name contains a NUL byte");
    }
  } else if (!h.backing_format.empty()) {
    h.backing_format.clear();  // a format without a file means nothing
  }

  // L1 table.
  if (uint64_t{h.l1_size} * 8 > kMaxL1Bytes) {
    return Error(path + ": corrupt qcow2 image: L1 table of " + std::to_string(h.l1_size) +
                 " entries is too large");
  }
  uint64_t l1_bytes = uint64_t{h.l1_size} * 8;
  uint64_t l1_needed = div_round_up(h.size, h.geometry().l1_entry_span());
  if (l1_needed > h.l1_size) {
    return Error(path + ": corrupt qcow2 image: L1 table of " + std::to_string(h.l1_size) +
                 " entries is too small for a disk of " + std::to_string(h.size) + " bytes");
  }
  if (h.l1_size > 0) {
    TRY(check_table(path, "L1 table", g, h.l1_table_offset, l1_bytes, file_size));
    if (l1_bytes > file_size - h.l1_table_offset) {
      return Error(path + ": corrupt qcow2 image: L1 table runs past the end of the file");
    }
  }
  // Refcount table. None at all (refcount_table_clusters 0) is left to the
  // caller: only a repair opens such an image, to build one.
  uint64_t reftable_bytes = uint64_t{h.refcount_table_clusters} << h.cluster_bits;
  if (reftable_bytes > kMaxRefcountTableBytes) {
    return Error(path + ": corrupt qcow2 image: refcount table of " +
                 std::to_string(h.refcount_table_clusters) + " clusters is too large");
  }
  if (h.refcount_table_clusters != 0) {
    TRY(check_table(path, "refcount table", g, h.refcount_table_offset, reftable_bytes, file_size));
  }
  if (ranges_overlap(h.l1_table_offset, l1_bytes, h.refcount_table_offset, reftable_bytes)) {
    return Error(path + ": corrupt qcow2 image: the L1 table overlaps the refcount table");
  }
  if (h.bitmaps_valid()) {
    const Qcow2BitmapsExtension& b = h.bitmaps;
    if (b.nb_bitmaps == 0 || b.nb_bitmaps > 65535 || b.directory_size == 0 ||
        b.directory_size > (uint64_t{64} << 20)) {
      return Error(path + ": corrupt qcow2 image: invalid bitmaps extension");
    }
    TRY(check_table(path, "bitmap directory", g, b.directory_offset, b.directory_size, file_size));
  }
  // Snapshot table: its entries are checked by the snapshot reader.
  if (h.nb_snapshots > kMaxSnapshots) {
    return Error(path + ": corrupt qcow2 image: " + std::to_string(h.nb_snapshots) +
                 " snapshots is more than the limit of " + std::to_string(kMaxSnapshots));
  }
  if (h.nb_snapshots > 0) {
    TRY(check_table(path, "snapshot table", g, h.snapshots_offset, 0, file_size));
  }
  return h;
}

Result<std::vector<uint8_t>> build_qcow2_header(Qcow2Header& h) {
  Geometry g = h.geometry();
  h.header_length = h.version >= 3 ? kHeaderLengthV3 : kHeaderLengthV2;
  std::vector<uint8_t> out(h.header_length, 0);
  auto append_extension = [&out](uint32_t type, const std::vector<uint8_t>& data) {
    size_t pos = out.size();
    out.resize(pos + 8 + round_up(data.size(), 8), 0);
    store_be32(&out[pos], type);
    store_be32(&out[pos + 4], static_cast<uint32_t>(data.size()));
    std::copy(data.begin(), data.end(), out.begin() + static_cast<ptrdiff_t>(pos + 8));
  };
  if (!h.backing_format.empty()) {
    append_extension(ext::kBackingFormat,
                     std::vector<uint8_t>(h.backing_format.begin(), h.backing_format.end()));
  }
  if (h.external_data() && !h.data_file.empty()) {
    append_extension(ext::kExternalDataFile,
                     std::vector<uint8_t>(h.data_file.begin(), h.data_file.end()));
  }
  if (h.version >= 3) {
    std::vector<uint8_t> table;
    for (const auto& f : kKnownFeatures) {
      size_t pos = table.size();
      table.resize(pos + kFeatureTableEntrySize, 0);
      table[pos] = static_cast<uint8_t>(f.type);
      table[pos + 1] = f.bit;
      memcpy(&table[pos + 2], f.name, strlen(f.name));
    }
    // Room for the table, the end marker and the backing file name? QEMU
    // (7.2) leaves the table out of header clusters of 4 KiB or less: new
    // images are then byte for byte what qemu-img writes.
    if (g.cluster_size() > 4096 &&
        out.size() + 8 + table.size() + 8 + h.backing_file.size() <= g.cluster_size()) {
      append_extension(ext::kFeatureTable, table);
    }
  }
  // After the feature name table, where QEMU puts it; only a valid one
  // (an extension the autoclear bit disowned is dropped, as QEMU drops it).
  if (h.bitmaps_valid() && h.bitmaps.nb_bitmaps > 0) {
    std::vector<uint8_t> data(24, 0);  // nb_bitmaps, reserved, size, offset
    store_be32(&data[0], h.bitmaps.nb_bitmaps);
    store_be64(&data[8], h.bitmaps.directory_size);
    store_be64(&data[16], h.bitmaps.directory_offset);
    append_extension(ext::kBitmaps, data);
  }
  for (const Qcow2UnknownExtension& e : h.unknown_extensions) append_extension(e.type, e.data);
  out.resize(out.size() + 8, 0);  // end of the header extension area
  h.backing_file_offset = 0;
  h.backing_file_size = 0;
  if (!h.backing_file.empty()) {
    if (h.backing_file.size() > kMaxBackingFileNameLength) {
      return Error("backing file name is longer than 1023 bytes");
    }
    h.backing_file_offset = out.size();
    h.backing_file_size = static_cast<uint32_t>(h.backing_file.size());
    out.insert(out.end(), h.backing_file.begin(), h.backing_file.end());
  }
  if (out.size() > g.cluster_size()) {
    return Error("the header and backing file name do not fit in one " +
                 std::to_string(g.cluster_size()) + "-byte cluster");
  }
  uint8_t* p = out.data();
  store_be32(p + field::kMagic, kMagic);
  store_be32(p + field::kVersion, h.version);
  store_be64(p + field::kBackingFileOffset, h.backing_file_offset);
  store_be32(p + field::kBackingFileSize, h.backing_file_size);
  store_be32(p + field::kClusterBits, h.cluster_bits);
  store_be64(p + field::kSize, h.size);
  store_be32(p + field::kCryptMethod, h.crypt_method);
  store_be32(p + field::kL1Size, h.l1_size);
  store_be64(p + field::kL1TableOffset, h.l1_table_offset);
  store_be64(p + field::kRefcountTableOffset, h.refcount_table_offset);
  store_be32(p + field::kRefcountTableClusters, h.refcount_table_clusters);
  store_be32(p + field::kNbSnapshots, h.nb_snapshots);
  store_be64(p + field::kSnapshotsOffset, h.snapshots_offset);
  if (h.version >= 3) {
    store_be64(p + field::kIncompatibleFeatures, h.incompatible_features);
    store_be64(p + field::kCompatibleFeatures, h.compatible_features);
    store_be64(p + field::kAutoclearFeatures, h.autoclear_features);
    store_be32(p + field::kRefcountOrder, h.refcount_order);
    store_be32(p + field::kHeaderLength, h.header_length);
    p[field::kCompressionType] = static_cast<uint8_t>(h.compression_type);
  }
  return out;
}

}  // namespace vessel::block
