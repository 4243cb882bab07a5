#include "block/qcow2.h"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <iterator>
#include <utility>

#include "base/log.h"
#include "block/qcow2_compress.h"

namespace vessel::block {

using namespace qcow2;

namespace {

// "l2-cache-size": tables to map the whole disk, within this much memory.
constexpr uint64_t kMaxL2CacheBytes = uint64_t{32} << 20;
constexpr uint64_t kMaxRefcountCacheBytes = uint64_t{8} << 20;

std::string hex(uint64_t value) {
  char buf[24];
  snprintf(buf, sizeof(buf), "0x%llx", static_cast<unsigned long long>(value));
  return buf;
}

}  // namespace

Result<Qcow2Version> parse_qcow2_compat(std::string_view compat) {
  if (compat == "0.10" || compat == "v2") return Qcow2Version::kV2;
  if (compat == "1.1" || compat == "v3") return Qcow2Version::kV3;
  return Error("unknown qcow2 compat level \"" + std::string(compat) +
               "\" (use \"0.10\" or \"1.1\")");
}

Result<uint32_t> parse_qcow2_refcount_bits(std::string_view bits) {
  uint32_t value = 0;
  auto [end, ec] = std::from_chars(bits.data(), bits.data() + bits.size(), value);
  if (ec != std::errc() || end != bits.data() + bits.size() || value == 0 || value > 64 ||
      (value & (value - 1)) != 0) {
    return Error("Refcount width must be a power of two and may not exceed 64 bits");
  }
  return value;
}

std::string resolve_backing_path(const std::string& image_path, const std::string& name) {
  if (name.empty() || name[0] == '/') return name;
  size_t slash = image_path.rfind('/');
  return slash == std::string::npos ? name : image_path.substr(0, slash + 1) + name;
}

Qcow2Image::Qcow2Image(std::unique_ptr<HostFile> file, Qcow2Header header,
                       const OpenOptions& options)
    : file_(std::move(file)),
      header_(std::move(header)),
      geometry_(header_.geometry()),
      options_(options) {
  info_.version = header_.version;
  info_.size = header_.size;
  info_.cluster_size = static_cast<uint32_t>(geometry_.cluster_size());
  info_.refcount_bits = header_.refcount_bits();
  info_.compression_type = header_.compression_type;
  info_.lazy_refcounts = (header_.compatible_features & kCompatLazyRefcounts) != 0;
  info_.extended_l2 = geometry_.extended_l2;
  info_.dirty = (header_.incompatible_features & kIncompatDirty) != 0;
  info_.corrupt = (header_.incompatible_features & kIncompatCorrupt) != 0;
  info_.backing_file = header_.backing_file;
  info_.backing_format = header_.backing_format;
  info_.external_data = header_.external_data();
  info_.data_file = info_.external_data ? header_.data_file : std::string();
  info_.data_file_raw = header_.data_file_raw();
  info_.snapshot_count = header_.nb_snapshots;
  lazy_refcounts_ = info_.lazy_refcounts && header_.version >= 3;
  dirty_on_disk_ = info_.dirty;

  const uint64_t cs = geometry_.cluster_size();
  uint64_t tables = std::max<uint64_t>(div_round_up(header_.size, geometry_.l1_entry_span()), 1);
  uint64_t l2_bytes = options.l2_cache_bytes != 0 ? options.l2_cache_bytes
                                                  : std::min(tables * cs, kMaxL2CacheBytes);
  size_t l2_capacity = static_cast<size_t>(std::max<uint64_t>(l2_bytes / cs, 2));
  size_t refcount_capacity = static_cast<size_t>(
      std::clamp<uint64_t>(l2_capacity / 4, 4, std::max<uint64_t>(kMaxRefcountCacheBytes / cs, 4)));
  l2_cache_ = std::make_unique<Qcow2TableCache>(*file_, cs, l2_capacity);
  refcounts_ = std::make_unique<Qcow2Refcounts>(*file_, header_, refcount_capacity);
  refcounts_->set_in_use_check([this](uint64_t cluster) { return is_metadata_cluster(cluster); });
  // An L2 table reaches the disk only after the clusters it maps are counted
  // (refcounts) and hold their data.
  l2_cache_->set_before_writeback([this]() -> Result<void> {
    TRY(settle_refcounts());
    TRY(sync_if_needed());
    // The cache writes its tables next, and they too must be synced before a
    // flush returns: a flush that changes no L1 entry has no later sync of
    // its own, and would leave the new mappings of flushed writes unsynced.
    unsynced_ = true;
    return Ok();
  });
}

Qcow2Image::~Qcow2Image() {
  std::lock_guard<std::mutex> lock(mu_);
  auto result = close_locked();
  if (!result.ok()) LOG_ERROR("%s", result.error().message().c_str());
}

Result<std::unique_ptr<Qcow2Image>> Qcow2Image::open(const std::string& path, OpenOptions options) {
  return open_in_chain(path, options, ChainState{});
}

Result<std::unique_ptr<Qcow2Image>> Qcow2Image::open_in_chain(const std::string& path,
                                                              const OpenOptions& options,
                                                              ChainState chain) {
  TRY_ASSIGN(auto file, HostFile::open(path, options.access, options.host_cache));
  file->set_sync_enabled(options.sync);
  TRY_ASSIGN(Qcow2Header header, parse_qcow2_header(*file));
  if (!header.has_refcount_table() && !options.repair) {
    return Error(path + ": Image does not contain a reference count table");
  }
  if (options.access == Access::kReadWrite &&
      (header.incompatible_features & kIncompatCorrupt) != 0) {
    return Error(path +
                 ": the image is marked corrupt; it can only be opened read-only until it is "
                 "repaired");
  }
  std::unique_ptr<Qcow2Image> image(new Qcow2Image(std::move(file), std::move(header), options));
  TRY(image->load());
  TRY(image->open_data_file(options));
  TRY(image->open_backing(chain));
  if (options.access == Access::kReadWrite) TRY(image->prepare_for_writing());
  return image;
}

Result<void> Qcow2Image::load() {
  const std::string& path = file_->path();
  TRY_ASSIGN(snapshots_, read_qcow2_snapshots(*file_, header_));
  TRY_ASSIGN(bitmaps_, read_qcow2_bitmaps(*file_, header_));
  TRY(refcounts_->load());

  // The active L1 table (or a snapshot's), every entry checked here once
  // (its L2 tables against each other too, so l2_clusters_ is filled as they
  // pass).
  uint64_t l1_offset = header_.l1_table_offset;
  l1_.resize(header_.l1_size);
  if (!options_.snapshot_id.empty() || !options_.snapshot_name.empty()) {
    if (options_.access != Access::kReadOnly) {
      return Error(path + ": an internal snapshot can only be opened read-only");
    }
    auto matches = [&](const Qcow2Snapshot& s) {
      return (options_.snapshot_id.empty() || s.id == options_.snapshot_id) &&
             (options_.snapshot_name.empty() || s.name == options_.snapshot_name);
    };
    auto found = std::find_if(snapshots_.snapshots.begin(), snapshots_.snapshots.end(), matches);
    if (found == snapshots_.snapshots.end()) {
      return Error(path + ": Failed to load snapshot: Can't find snapshot");
    }
    const Qcow2Snapshot& s = *found;
    l1_offset = s.l1_table_offset;
    l1_.resize(s.l1_size);
    info_.size = s.disk_size;
  }
  if (!l1_.empty()) {
    std::vector<uint8_t> raw(l1_.size() * 8);
    TRY(file_->read(l1_offset, raw));
    for (uint64_t i = 0; i < l1_.size(); ++i) l1_[i] = load_be64(&raw[i * 8]);
  }
  index_metadata();
  l2_clusters_.clear();
  for (uint64_t i = 0; i < l1_.size(); ++i) {
    uint64_t entry = l1_[i];
    uint64_t offset = entry & kL1OffsetMask;
    auto bad = [&](const std::string& why) {
      return Error(path + ": corrupt qcow2 image: L1 entry " + std::to_string(i) + " (" +
                   hex(entry) + ") " + why);
    };
    if ((entry & kL1ReservedMask) != 0) return bad("has reserved bits set");
    if (offset == 0) continue;
    if (!geometry_.aligned(offset)) return bad("points to a misaligned L2 table");
    if (offset >= file_->size()) return bad("points past the end of the file");
    if (is_metadata_cluster(geometry_.cluster_index(offset))) {
      return bad("points into other metadata");
    }
    l2_clusters_.insert(geometry_.cluster_index(offset));
  }
  return Ok();
}

void Qcow2Image::index_metadata() {
  fixed_metadata_.clear();
  auto add_fixed = [&](uint64_t offset, uint64_t bytes) {
    if (bytes == 0) return;
    fixed_metadata_.emplace_back(geometry_.cluster_index(offset),
                                 geometry_.cluster_index(offset + bytes - 1) + 1);
  };
  add_fixed(0, geometry_.cluster_size());
  add_fixed(header_.l1_table_offset, uint64_t{header_.l1_size} * 8);
  add_fixed(header_.snapshots_offset, snapshots_.table_bytes);
  for (const auto& s : snapshots_.snapshots) add_fixed(s.l1_table_offset, uint64_t{s.l1_size} * 8);
  if (!bitmaps_.empty()) {
    add_fixed(header_.bitmaps.directory_offset, header_.bitmaps.directory_size);
    for (const auto& b : bitmaps_) add_fixed(b.table_offset, uint64_t{b.table_size} * 8);
  }
  std::sort(fixed_metadata_.begin(), fixed_metadata_.end());
  std::vector<std::pair<uint64_t, uint64_t>> merged;
  for (const auto& range : fixed_metadata_) {
    if (!merged.empty() && range.first <= merged.back().second) {
      merged.back().second = std::max(merged.back().second, range.second);
    } else {
      merged.push_back(range);
    }
  }
  fixed_metadata_ = std::move(merged);
  l2_clusters_.clear();
  for (uint64_t entry : l1_) {
    if ((entry & kL1OffsetMask) != 0) {
      l2_clusters_.insert(geometry_.cluster_index(entry & kL1OffsetMask));
    }
  }
}

Result<void> Qcow2Image::prepare_for_writing() {
  // "An implementation may only write to an image with unknown auto-clear
  // features if it clears the respective bits from this field first." Raw
  // external data is maintained here; valid bitmaps are kept, and record
  // the writes (qcow2_bitmap_track.cc).
  const uint64_t kept =
      header_.autoclear_features &
      (kAutoclearRawExternalData | (header_.bitmaps_valid() ? kAutoclearBitmaps : 0));
  if (header_.version >= 3 && header_.autoclear_features != kept) {
    uint8_t raw[8];
    store_be64(raw, kept);
    TRY(file_->write(field::kAutoclearFeatures, raw));
    TRY(file_->sync());
    header_.autoclear_features = kept;
  }
  if (dirty_on_disk_) TRY(repair_refcounts());
  return Ok();
}

Error Qcow2Image::corruption(const std::string& what) {
  if (!file_->read_only() && !corrupt_ && header_.version >= 3) {
    // Stop the damage from spreading: further writes are refused and the
    // header says so ("Corrupt bit ... must not be written to").
    corrupt_ = true;
    auto marked = set_incompatible_bit(kIncompatCorrupt, true);
    if (marked.ok()) marked = file_->sync();
    (void)marked;
  }
  corrupt_ = true;
  return Error(file_->path() + ": corrupt qcow2 image: " + what);
}

bool Qcow2Image::is_metadata_cluster(uint64_t cluster) const {
  // fixed_metadata_ is sorted by start and merged, so one range can hold it.
  auto after = std::upper_bound(
      fixed_metadata_.begin(), fixed_metadata_.end(), cluster,
      [](uint64_t c, const std::pair<uint64_t, uint64_t>& range) { return c < range.first; });
  if (after != fixed_metadata_.begin() && cluster < std::prev(after)->second) return true;
  return refcounts_->is_metadata(cluster) || l2_clusters_.count(cluster) != 0;
}

Result<Qcow2Image::Mapping> Qcow2Image::classify(uint64_t entry, uint64_t guest_offset,
                                                 bool check_overlap, uint64_t bitmap) {
  auto bad = [&](const std::string& why) {
    return corruption("L2 entry " + hex(entry) + " for guest offset " +
                      std::to_string(guest_offset) + " " + why);
  };
  Mapping m;
  m.entry = entry;
  m.bitmap = bitmap;
  if ((entry & kOflagCompressed) != 0) {
    // "neither compressed clusters nor internal snapshots are supported"
    if (data_file_) return bad("is compressed in an image with an external data file");
    if ((entry & kOflagCopied) != 0) return bad("is compressed and marked copied");
    // "Subcluster Allocation Bitmap (for compressed clusters): Reserved (set to 0)".
    if (bitmap != 0) return bad("is compressed but has a subcluster bitmap");
    CompressedExtent e = compressed_extent(geometry_, entry);
    if (e.offset < geometry_.cluster_size() || e.offset >= file_->size()) {
      return bad("points to compressed data outside the file");
    }
    // Overwriting it later drops a reference on every cluster it touches, so
    // none of them may be metadata.
    uint64_t last = geometry_.cluster_index(std::min(e.offset + e.length, file_->size()) - 1);
    for (uint64_t c = geometry_.cluster_index(e.offset); check_overlap && c <= last; ++c) {
      if (is_metadata_cluster(c)) return bad("points to compressed data inside metadata");
    }
    m.kind = ClusterKind::kCompressed;
    return m;
  }
  if ((entry & kL2StandardReservedMask) != 0) return bad("has reserved bits set");
  m.host = entry & kL2OffsetMask;
  // With extended L2 entries bit 0 is not used: the bitmap says what reads
  // as zeros.
  bool zero = (entry & kOflagZero) != 0 && !geometry_.extended_l2;
  if (zero && header_.version < 3) return bad("has the zero flag in a version 2 image");
  // "The offset may only be 0 with bit 63 set (indicating a host cluster
  // offset of 0) when an external data file is used."
  m.has_host = m.host != 0 || (data_file_ && (entry & kOflagCopied) != 0 && !zero);
  if (data_file_ && m.has_host) {
    // "The offset field ... must match the guest offset"; the data file is
    // not the image file, so nothing here can overlap metadata.
    if (((bitmap >> 32) & bitmap) != 0) {
      return bad("has subclusters marked both allocated and reading as zeros");
    }
    if (m.host != (guest_offset & ~(geometry_.cluster_size() - 1))) {
      return bad("does not map the cluster to its guest offset in the external data file");
    }
    m.kind = zero ? ClusterKind::kZero : ClusterKind::kNormal;
    return m;
  }
  if (!m.has_host) {
    if ((entry & kOflagCopied) != 0 && !data_file_) {
      return bad("is marked copied but has no offset");
    }
    // "1: the subcluster is allocated. In this case the host cluster offset
    // field must contain a valid offset."
    if ((bitmap & kSubclusterAllocMask) != 0) {
      return bad("has allocated subclusters but no host cluster");
    }
    m.kind = zero ? ClusterKind::kZero : ClusterKind::kUnallocated;
    return m;
  }
  // "1: the subcluster reads as zeros. In this case the allocation status bit
  // must be unset."
  if (((bitmap >> 32) & bitmap) != 0) {
    return bad("has subclusters marked both allocated and reading as zeros");
  }
  if (!geometry_.aligned(m.host)) return bad("points to a misaligned cluster");
  if (m.host >= file_->size()) return bad("points past the end of the file");
  if (check_overlap && is_metadata_cluster(geometry_.cluster_index(m.host))) {
    return bad("points into metadata");
  }
  m.kind = zero ? ClusterKind::kZero : ClusterKind::kNormal;
  return m;
}

Result<Qcow2Image::Mapping> Qcow2Image::lookup(uint64_t guest_offset) {
  // "l2_index = (offset / cluster_size) % l2_entries; l1_index = ... / l2_entries"
  uint64_t cluster = geometry_.cluster_index(guest_offset);
  uint64_t l1_index = cluster / geometry_.l2_entries();
  if (l1_index >= l1_.size()) return Mapping{};
  uint64_t l2_offset = l1_[l1_index] & kL1OffsetMask;
  if (l2_offset == 0) return Mapping{};
  TRY_ASSIGN(Qcow2Table * table, l2_cache_->get(l2_offset));
  uint64_t index = cluster % geometry_.l2_entries();
  return classify(l2_entry(*table, index), guest_offset, true, l2_bitmap(*table, index));
}

uint64_t Qcow2Image::l2_entry(const Qcow2Table& table, uint64_t index) const {
  return table.entry(geometry_.extended_l2 ? index * 2 : index);
}

uint64_t Qcow2Image::l2_bitmap(const Qcow2Table& table, uint64_t index) const {
  return geometry_.extended_l2 ? table.entry(index * 2 + 1) : 0;
}

void Qcow2Image::set_l2(Qcow2Table& table, uint64_t index, uint64_t entry, uint64_t bitmap) const {
  if (!geometry_.extended_l2) {
    table.set_entry(index, entry);
    return;
  }
  // "Extended L2 Entries": the descriptor, then the subcluster bitmap.
  table.set_entry(index * 2, entry);
  table.set_entry(index * 2 + 1, bitmap);
}

void Qcow2Image::set_l2_descriptor(Qcow2Table& table, uint64_t index, uint64_t entry) const {
  table.set_entry(geometry_.extended_l2 ? index * 2 : index, entry);
}

Qcow2Image::Mapping Qcow2Image::subcluster(const Mapping& m, uint64_t in_cluster,
                                           uint64_t* run) const {
  const uint64_t cs = geometry_.cluster_size();
  if (!geometry_.extended_l2 || m.kind == ClusterKind::kCompressed) {
    *run = cs - in_cluster;
    return m;
  }
  // Per subcluster x: zero bit 32 + x, else allocation bit x (which classify()
  // allows only with a host cluster), else unallocated.
  auto kind_of = [&](uint64_t x) {
    if ((m.bitmap >> (32 + x)) & 1) return ClusterKind::kZero;
    if ((m.bitmap >> x) & 1) return ClusterKind::kNormal;
    return ClusterKind::kUnallocated;
  };
  const uint64_t scs = geometry_.subcluster_size();
  uint64_t first = in_cluster / scs;
  Mapping out = m;
  out.kind = kind_of(first);
  uint64_t end = first + 1;
  while (end < kSubclustersPerCluster && kind_of(end) == out.kind) ++end;
  *run = end * scs - in_cluster;
  return out;
}

Result<Qcow2Image::ClusterAllocation> Qcow2Image::cluster_allocation(uint64_t guest_offset) {
  std::lock_guard<std::mutex> lock(mu_);
  TRY(check_request(guest_offset, 1, false));
  TRY_ASSIGN(Mapping whole, lookup(guest_offset));
  uint64_t run = 0;
  Mapping m = subcluster(whole, guest_offset & (geometry_.cluster_size() - 1), &run);
  switch (m.kind) {
    case ClusterKind::kUnallocated:
      return ClusterAllocation{Allocation::kUnallocated, 0, run};
    case ClusterKind::kZero:
      return ClusterAllocation{Allocation::kZero, m.host, run};
    case ClusterKind::kCompressed:
      return ClusterAllocation{Allocation::kCompressed, 0, run};
    case ClusterKind::kNormal:
      break;
  }
  return ClusterAllocation{Allocation::kData, m.host, run};
}

Result<void> Qcow2Image::check_request(uint64_t offset, uint64_t length, bool for_write) const {
  if (closed_) return Error(file_->path() + ": image is closed");
  if (for_write && file_->read_only()) return Error(file_->path() + ": image is read-only");
  if (for_write && corrupt_) {
    return Error(file_->path() + ": image is corrupt; writes are refused");
  }
  if (offset > info_.size || length > info_.size - offset) {
    return Error(file_->path() + ": request of " + std::to_string(length) + " bytes at offset " +
                 std::to_string(offset) + " is beyond the end of the disk (" +
                 std::to_string(info_.size) + " bytes)");
  }
  return Ok();
}

Result<void> Qcow2Image::read_backing(uint64_t guest_offset, std::span<uint8_t> out) {
  // "If there is no backing file or the backing file is smaller than the
  // image, they shall read zeros for all parts that are not covered".
  uint64_t covered = 0;
  if (backing_ && guest_offset < backing_size_) {
    covered = std::min<uint64_t>(out.size(), backing_size_ - guest_offset);
    TRY(backing_->read(guest_offset, out.first(covered)));
  }
  std::fill(out.begin() + static_cast<ptrdiff_t>(covered), out.end(), 0);
  return Ok();
}

Result<void> Qcow2Image::read_compressed(const Mapping& m, std::span<uint8_t> cluster) {
  if (decompressed_entry_ == m.entry && !decompressed_.empty()) {
    std::copy(decompressed_.begin(), decompressed_.end(), cluster.begin());
    return Ok();
  }
  CompressedExtent e = compressed_extent(geometry_, m.entry);
  // The last sector may reach past the end of the file; the data does not.
  uint64_t length = std::min(e.length, file_->size() - e.offset);
  std::vector<uint8_t> in(length);
  TRY(file_->read(e.offset, in));
  auto result = qcow2_decompress(header_.compression_type, in, cluster);
  if (!result.ok()) {
    return corruption("compressed cluster at host offset " + hex(e.offset) + ": " +
                      result.error().message());
  }
  decompressed_.assign(cluster.begin(), cluster.end());
  decompressed_entry_ = m.entry;
  return Ok();
}

Result<void> Qcow2Image::read_cluster_contents(uint64_t guest_cluster_offset, const Mapping& m,
                                               std::span<uint8_t> cluster) {
  switch (m.kind) {
    case ClusterKind::kUnallocated:
      return read_backing(guest_cluster_offset, cluster);
    case ClusterKind::kZero:
      std::fill(cluster.begin(), cluster.end(), 0);
      return Ok();
    case ClusterKind::kNormal:
      return guest_data().read_padded(m.host, cluster);
    case ClusterKind::kCompressed:
      return read_compressed(m, cluster);
  }
  return Ok();
}

Result<bool> Qcow2Image::known_zero(uint64_t offset, uint64_t length) {
  std::lock_guard<std::mutex> lock(mu_);
  TRY(check_request(offset, length, false));
  return reads_as_zeros(offset, length);
}

Result<bool> Qcow2Image::reads_as_zeros(uint64_t offset, uint64_t length) {
  const uint64_t cs = geometry_.cluster_size();
  for (uint64_t done = 0; done < length;) {
    uint64_t pos = offset + done;
    TRY_ASSIGN(Mapping whole, lookup(pos));
    uint64_t run = 0;
    Mapping m = subcluster(whole, pos & (cs - 1), &run);
    uint64_t chunk = std::min<uint64_t>(length - done, run);
    if (m.kind == ClusterKind::kUnallocated && backing_ && pos < backing_size_) {
      uint64_t below = std::min<uint64_t>(chunk, backing_size_ - pos);
      TRY_ASSIGN(bool zero, backing_->known_zero(pos, below));
      if (!zero) return false;
    } else if (m.kind != ClusterKind::kUnallocated && m.kind != ClusterKind::kZero) {
      return false;
    }
    done += chunk;
  }
  return true;
}

Result<void> Qcow2Image::read(uint64_t offset, std::span<uint8_t> out) {
  std::unique_lock<std::mutex> lock(mu_);
  TRY(check_request(offset, out.size(), false));
  return read_locked(offset, out, &lock);
}

Result<void> Qcow2Image::read_locked(uint64_t offset, std::span<uint8_t> out,
                                     std::unique_lock<std::mutex>* lock) {
  const uint64_t cs = geometry_.cluster_size();
  uint64_t done = 0;
  while (done < out.size()) {
    uint64_t pos = offset + done;
    uint64_t in_cluster = pos & (cs - 1);
    TRY_ASSIGN(Mapping whole, lookup(pos));
    uint64_t run = 0;
    Mapping m = subcluster(whole, in_cluster, &run);
    uint64_t chunk = std::min<uint64_t>(out.size() - done, run);
    std::span<uint8_t> dest = out.subspan(done, chunk);
    switch (m.kind) {
      case ClusterKind::kUnallocated:
        TRY(read_backing(pos, dest));
        break;
      case ClusterKind::kZero:
        std::fill(dest.begin(), dest.end(), 0);
        break;
      case ClusterKind::kNormal: {
        // Neighbouring clusters that are also contiguous in the file go in
        // the same read (while the data reaches each cluster's end).
        uint64_t host = m.host + in_cluster;
        while (done + chunk < out.size() && ((pos + chunk) & (cs - 1)) == 0) {
          TRY_ASSIGN(Mapping next, lookup(pos + chunk));
          uint64_t next_run = 0;
          Mapping n = subcluster(next, 0, &next_run);
          if (n.kind != ClusterKind::kNormal || n.host != host + chunk) break;
          chunk += std::min<uint64_t>(out.size() - done - chunk, next_run);
        }
        if (file_->read_only() && lock != nullptr) {
          // Nothing changes the mapping of a read-only image, so the host
          // clusters stay what they are: readers on other threads need not
          // wait for this read.
          lock->unlock();
          auto r = guest_data().read_padded(host, out.subspan(done, chunk));
          lock->lock();
          TRY(r);
        } else {
          TRY(guest_data().read_padded(host, out.subspan(done, chunk)));
        }
        break;
      }
      case ClusterKind::kCompressed: {
        std::vector<uint8_t> cluster(cs);
        TRY(read_compressed(m, cluster));
        std::copy_n(cluster.begin() + static_cast<ptrdiff_t>(in_cluster), chunk, dest.begin());
        break;
      }
    }
    done += chunk;
  }
  return Ok();
}

Result<void> Qcow2Image::close() {
  std::lock_guard<std::mutex> lock(mu_);
  return close_locked();
}

}  // namespace vessel::block
