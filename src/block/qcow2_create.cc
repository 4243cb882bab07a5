// Creating a qcow2 image: the header cluster, a refcount table and blocks
// that count every cluster of the new file, and an empty L1 table. Laid out
// as [header][refcount table][refcount blocks][L1 table], like images made
// by qemu-img.
#include <sys/stat.h>

#include <algorithm>
#include <bit>

#include "block/image_format.h"
#include "block/qcow2.h"
#include "block/raw_file.h"

namespace vessel::block {

using namespace qcow2;

namespace {

Result<void> check_options(const std::string& path, const Qcow2CreateOptions& o) {
  auto bad = [&](const std::string& why) { return Error(path + ": " + why); };
  if (!std::has_single_bit(o.cluster_size) || o.cluster_size < (1u << kMinClusterBits) ||
      o.cluster_size > (1u << kMaxClusterBits)) {
    return bad("cluster size must be a power of two from 512 bytes to 2 MiB");
  }
  if (!std::has_single_bit(o.refcount_bits) || o.refcount_bits > 64) {
    return bad("refcount width must be a power of two from 1 to 64 bits");
  }
  if (o.version == Qcow2Version::kV2) {
    if (o.refcount_bits != 16) return bad("compat 0.10 images have 16-bit refcounts only");
    if (o.lazy_refcounts) return bad("lazy refcounts need compat 1.1");
    if (o.compression_type != CompressionType::kZlib)
      return bad("zstd compression needs compat 1.1");
  }
  // qcow2 spec: "if the image has Extended L2 Entries then cluster_bits must
  // be at least 14"; an incompatible feature needs version 3. QEMU's words.
  if (o.extended_l2 && o.version == Qcow2Version::kV2) {
    return bad(
        "Extended L2 entries are only supported with compatibility level 1.1 and above (use "
        "version=v3 or greater)");
  }
  if (o.extended_l2 && o.cluster_size < (1u << kMinExtendedL2ClusterBits)) {
    return bad("Extended L2 entries are only supported with cluster sizes of at least 16384 bytes");
  }
  // External data files (qcow2 spec: incompatible bit 2, autoclear bit 1
  // "conflicts with backing files"); QEMU's words.
  if (o.data_file_raw && o.data_file.empty()) return bad("data-file-raw requires data-file");
  if (o.data_file_raw && !o.backing_file.empty()) {
    return bad("Backing file and data-file-raw cannot be used at the same time");
  }
  if (!o.data_file.empty() && o.version == Qcow2Version::kV2) {
    return bad(
        "External data files are only supported with compatibility level 1.1 and above (use "
        "version=v3 or greater)");
  }
  if (o.data_file.size() > kMaxBackingFileNameLength) {
    return bad("the data file name is longer than 1023 bytes");
  }
  if (o.extent_size_hint > kMaxExtentSizeHint) return bad("Extent size hint is too large");
  if (o.size % 512 != 0) return bad("the disk size must be a multiple of 512 bytes");
  if (o.preallocation != Qcow2Preallocation::kOff && !o.backing_file.empty()) {
    return bad("preallocation and a backing file cannot be combined");
  }
  if (o.backing_file.size() > kMaxBackingFileNameLength) {
    return bad("the backing file name is longer than 1023 bytes");
  }
  return Ok();
}

// The backing file must exist and must not be the image itself; it gives
// the default size.
Result<void> inspect_backing(const std::string& path, ImageFormat format,
                             Qcow2CreateOptions& options) {
  std::string backing_path = resolve_backing_path(path, options.backing_file);
  TRY_ASSIGN(auto backing_file, HostFile::open(backing_path, Access::kReadOnly));
  struct stat st;
  if (stat(path.c_str(), &st) == 0 &&
      backing_file->identity() == FileIdentity{st.st_dev, st.st_ino}) {
    return Error(path + ": the backing file cannot be the image itself");
  }
  backing_file.reset();
  if (options.size == 0) {
    if (format == ImageFormat::kQcow2) {
      TRY_ASSIGN(auto backing, Qcow2Image::open(backing_path, {}));
      options.size = backing->size();
    } else {
      TRY_ASSIGN(auto backing, RawFile::open(backing_path, true));
      options.size = backing->size();
    }
    options.size = round_up(options.size, 512);
  }
  return Ok();
}

// As QEMU: the hint is advice; only the caller's wish for a non-zero one
// that the file system refuses earns a warning.
void set_hint(HostFile& file, const Qcow2CreateOptions& o) {
  auto set = file.set_extent_size_hint(static_cast<uint32_t>(o.extent_size_hint));
  if (!set.ok() && o.warn && o.extent_size_hint != 0) {
    o.warn("Failed to set extent size hint: " + set.error().message());
  }
}

}  // namespace

Result<void> Qcow2Image::create(const std::string& path, CreateOptions options) {
  TRY(check_options(path, options));
  if (!options.backing_file.empty()) {
    // Recorded, never probed here: a raw disk whose guest wrote a qcow2
    // header into it must not become a qcow2 backing file by accident.
    if (options.backing_format.empty()) {
      return Error(path + ": a backing file needs its format (raw or qcow2)");
    }
    TRY_ASSIGN(ImageFormat format, parse_image_format(options.backing_format));
    if (!options.backing_unchecked) {
      TRY(inspect_backing(path, format, options));
    } else if (options.size == 0) {
      return Error(path + ": Image creation needs a size parameter");
    }
  }

  Qcow2Header h;
  h.version = static_cast<uint32_t>(options.version);
  h.cluster_bits = static_cast<uint32_t>(std::countr_zero(options.cluster_size));
  h.size = options.size;
  h.refcount_order = static_cast<uint32_t>(std::countr_zero(options.refcount_bits));
  h.backing_file = options.backing_file;
  h.backing_format = options.backing_file.empty() ? std::string() : options.backing_format;
  h.compression_type = options.compression_type;
  if (options.compression_type != CompressionType::kZlib) {
    h.incompatible_features |= kIncompatCompressionType;
  }
  if (options.lazy_refcounts) h.compatible_features |= kCompatLazyRefcounts;
  if (options.extended_l2) h.incompatible_features |= kIncompatExtendedL2;
  if (!options.data_file.empty()) {
    h.incompatible_features |= kIncompatExternalData;
    h.data_file = options.data_file;
    if (options.data_file_raw) {
      h.autoclear_features |= kAutoclearRawExternalData;
      // "the external data file can be read as a consistent standalone raw
      // image without looking at the qcow2 metadata": the L2 tables must map
      // every cluster to it one to one, so that both views agree (QEMU
      // preallocates the metadata too).
      options.preallocation = Qcow2Preallocation::kMetadata;
    }
  }

  Geometry g = h.geometry();
  const uint64_t cs = g.cluster_size();
  uint64_t l1_entries = div_round_up(h.size, g.l1_entry_span());
  if (l1_entries * 8 > kMaxL1Bytes) {
    return Error(path + ": a disk of " + std::to_string(h.size) + " bytes is too large for " +
                 std::to_string(cs) + "-byte clusters");
  }
  h.l1_size = static_cast<uint32_t>(l1_entries);
  // Refcount blocks must count the clusters of the table and of themselves.
  const uint64_t per_block = cs * 8 / options.refcount_bits;
  const uint64_t l1_clusters = div_round_up(l1_entries * 8, cs);
  uint64_t table_clusters = 1;
  uint64_t blocks = 1;
  for (;;) {
    uint64_t total = 1 + table_clusters + blocks + l1_clusters;
    uint64_t want_blocks = div_round_up(total, per_block);
    uint64_t want_table = div_round_up(want_blocks * 8, cs);
    if (want_blocks == blocks && want_table == table_clusters) break;
    blocks = std::max(blocks, want_blocks);
    table_clusters = std::max(table_clusters, want_table);
  }
  const uint64_t total = 1 + table_clusters + blocks + l1_clusters;
  // The layout qemu-img makes: header, refcount table, first refcount block,
  // L1 table, then any further refcount blocks (QEMU adds those while it
  // grows the L1 table of the minimal image it starts from). New images are
  // then byte for byte what qemu-img writes, sizes included.
  const uint64_t first_block = 1 + table_clusters;
  const uint64_t l1_start = first_block + 1;
  const uint64_t more_blocks = l1_start + l1_clusters;
  // QEMU places each further block at the next free cluster as the L1
  // clusters need them; a block that lands in a range with no block yet
  // gets that range's block right after it.
  std::vector<uint64_t> block_cluster(blocks, 0);
  block_cluster[0] = first_block;
  uint64_t next_free = more_blocks;
  for (uint64_t r = 1; r < blocks; ++r) {
    for (uint64_t want = r; block_cluster[want] == 0; want = block_cluster[want] / per_block) {
      block_cluster[want] = next_free++;
    }
  }
  h.refcount_table_offset = cs;
  h.refcount_table_clusters = static_cast<uint32_t>(table_clusters);
  h.l1_table_offset = l1_entries == 0 ? 0 : l1_start * cs;  // an empty table has no offset

  TRY_ASSIGN(std::vector<uint8_t> header_cluster, build_qcow2_header(h));
  header_cluster.resize(cs, 0);
  std::vector<uint8_t> table(table_clusters * cs, 0);
  std::vector<uint8_t> block_bytes(blocks * cs, 0);
  for (uint64_t b = 0; b < blocks; ++b) store_be64(&table[b * 8], block_cluster[b] * cs);
  for (uint64_t c = 0; c < total; ++c) {
    uint64_t bit = c * options.refcount_bits;  // refcount 1, bit 0 least significant
    if (options.refcount_bits >= 8) {
      block_bytes[(bit + options.refcount_bits) / 8 - 1] = 1;
    } else {
      block_bytes[bit / 8] |= static_cast<uint8_t>(1u << (bit % 8));
    }
  }

  if (!options.data_file.empty()) {
    // A new, empty data file of the disk's size (replacing any file there,
    // as QEMU does); relative to the current directory, as QEMU opens it.
    TRY_ASSIGN(auto data_file, HostFile::create(options.data_file));
    set_hint(*data_file, options);
    data_file->set_sync_enabled(options.sync);
    TRY(data_file->truncate(h.size));
    TRY(data_file->sync());
  }
  TRY_ASSIGN(auto file, HostFile::create(path));
  set_hint(*file, options);
  file->set_sync_enabled(options.sync);
  TRY(file->write(0, header_cluster));
  TRY(file->write(cs, table));
  for (uint64_t b = 0; b < blocks; ++b) {
    TRY(file->write(block_cluster[b] * cs, std::span(block_bytes).subspan(b * cs, cs)));
  }
  // The L1 table reads as zeros. Like qemu-img, a file that ends with it
  // ends with its last entry (a 1 MiB image is 196,616 bytes).
  TRY(file->truncate(blocks > 1 ? total * cs : l1_start * cs + l1_entries * 8));
  TRY(file->sync());
  file.reset();

  if ((options.preallocation == Qcow2Preallocation::kMetadata && h.size > 0) ||
      !options.data_file.empty()) {
    // Opening checks the image just written (and, with a data file, that it
    // is not the image itself).
    Qcow2OpenOptions open_options;
    open_options.access = Access::kReadWrite;
    open_options.sync = options.sync;
    open_options.backing = Qcow2BackingPolicy::kIgnore;
    TRY_ASSIGN(auto image, Qcow2Image::open(path, open_options));
    if (options.preallocation == Qcow2Preallocation::kMetadata && h.size > 0) {
      TRY(image->preallocate());
    }
    TRY(image->close());
  }
  return Ok();
}

Result<void> Qcow2Image::preallocate() {
  std::lock_guard<std::mutex> lock(mu_);
  wait_for_unlocked_writes();
  return preallocate_locked(0);
}

Result<void> Qcow2Image::preallocate_locked(uint64_t first_cluster) {
  // Every guest cluster gets an L2 entry and a host cluster, which reads as
  // zeros because the file grows sparsely. From `first_cluster` on: for the
  // fresh area of a grown disk with an external data file, whose entries
  // already set stay as they are.
  const uint64_t clusters = div_round_up(info_.size, geometry_.cluster_size());
  const uint64_t per_table = geometry_.l2_entries();
  for (uint64_t l1_index = first_cluster / per_table; l1_index * per_table < clusters; ++l1_index) {
    TRY_ASSIGN(Qcow2Table * table, l2_table_for_write(l1_index));
    uint64_t table_offset = table->offset;
    uint64_t count = std::min(per_table, clusters - l1_index * per_table);
    TRY_ASSIGN(DataCluster alloc,
               allocate_data(l1_index * per_table * geometry_.cluster_size(), count));
    TRY_ASSIGN(table, l2_cache_->get(table_offset));
    for (uint64_t i = 0; i < count; ++i) {
      if (data_file_ && (l2_entry(*table, i) != 0 || l2_bitmap(*table, i) != 0)) continue;
      // With extended L2 entries the subclusters stay unallocated (reading
      // as zeros), as QEMU leaves them.
      set_l2(*table, i, (alloc.offset + i * geometry_.cluster_size()) | kOflagCopied, 0);
    }
  }
  return flush_locked();
}

}  // namespace vessel::block
