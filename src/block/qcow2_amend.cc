// Header rewrites: `amend` (compat level, lazy refcounts) and a new backing
// file name. Each starts from a settled image (refcounts exact on disk, dirty
// bit clear) and ends with the whole header cluster written in one write, as
// QEMU does. A downgrade to version 2 first turns zero clusters into what
// version 2 can say: unallocated where nothing shows through, zeros written
// into a cluster otherwise.
#include <algorithm>
#include <cstdio>

#include "block/qcow2.h"

namespace vessel::block {

using namespace qcow2;

// The rewritten header keeps a valid bitmaps extension; one whose autoclear
// bit is clear goes, as QEMU drops it at its next read-write open (its
// clusters leak).
Result<void> Qcow2Image::rewrite_header() {
  Qcow2Header h = header_;
  h.size = info_.size;
  h.refcount_table_offset = refcounts_->table_offset();
  h.refcount_table_clusters = static_cast<uint32_t>(refcounts_->table_clusters());
  auto built = build_qcow2_header(h);
  if (!built.ok()) return Error(file_->path() + ": " + built.error().message());
  std::vector<uint8_t> cluster = std::move(built).value();
  cluster.resize(geometry_.cluster_size(), 0);
  TRY(file_->write(0, cluster));
  TRY(file_->sync());
  header_ = std::move(h);
  return Ok();
}

Result<void> Qcow2Image::downgrade_zero_clusters() {
  const uint64_t cs = geometry_.cluster_size();
  const uint64_t per_table = geometry_.l2_entries();
  // Snapshot tables would need the same conversion; refuse rather than
  // leave them unreadable as version 2.
  for (const auto& s : snapshots_.snapshots) {
    std::vector<uint8_t> raw(uint64_t{s.l1_size} * 8);
    TRY(file_->read(s.l1_table_offset, raw));
    for (uint64_t i = 0; i < s.l1_size; ++i) {
      uint64_t l2_offset = load_be64(&raw[i * 8]) & kL1OffsetMask;
      if (l2_offset == 0) continue;
      TRY_ASSIGN(Qcow2Table * table, l2_cache_->get(l2_offset));
      for (uint64_t j = 0; j < per_table; ++j) {
        uint64_t entry = l2_entry(*table, j);
        if ((entry & kOflagCompressed) == 0 && (entry & kOflagZero) != 0) {
          return Error(file_->path() + ": cannot downgrade: internal snapshot '" + s.name +
                       "' has zero clusters");
        }
      }
    }
  }
  for (uint64_t i = 0; i < l1_.size(); ++i) {
    if ((l1_[i] & kL1OffsetMask) == 0) continue;
    for (uint64_t j = 0; j < per_table; ++j) {
      const uint64_t guest = (i * per_table + j) * cs;
      TRY_ASSIGN(Qcow2Table * table, l2_cache_->get(l1_[i] & kL1OffsetMask));
      TRY_ASSIGN(Mapping m, classify(l2_entry(*table, j), guest, true));
      if (m.kind != ClusterKind::kZero) continue;
      const bool owned = (m.entry & kOflagCopied) != 0;
      const bool shows_through = backing_ && guest < backing_size_;
      if (guest < info_.size && (shows_through || (m.host != 0 && owned))) {
        // Explicit zeros; a preallocated cluster keeps its place.
        std::vector<uint8_t> zeros(std::min(cs, info_.size - guest), 0);
        TRY(write_chunk(guest, zeros));
      } else {
        TRY_ASSIGN(table, l2_table_for_write(i));
        TRY_ASSIGN(m, classify(l2_entry(*table, j), guest, true));
        set_l2(*table, j, 0, 0);
        release_later(m);
      }
    }
  }
  return flush_locked();
}

Result<void> Qcow2Image::amend(const Qcow2AmendOptions& options) {
  std::lock_guard<std::mutex> lock(mu_);
  wait_for_unlocked_writes();
  const std::string& path = file_->path();
  TRY(check_request(0, 0, true));
  const uint32_t version =
      options.set_version ? static_cast<uint32_t>(options.version) : header_.version;
  bool lazy = options.set_lazy_refcounts
                  ? options.lazy_refcounts
                  : (header_.compatible_features & kCompatLazyRefcounts) != 0;
  if (version < 3) {
    if (options.set_lazy_refcounts && options.lazy_refcounts) {
      return Error(path + ": lazy refcounts only supported with compatibility level 1.1 and above");
    }
    lazy = false;  // as QEMU: a downgrade drops them
    if (header_.refcount_bits() != 16) {
      return Error(path + ": compat=0.10 requires refcount_bits=16");
    }
  }
  const bool was_lazy = (header_.compatible_features & kCompatLazyRefcounts) != 0;
  if (version == header_.version && lazy == was_lazy) return Ok();

  if (version < header_.version) {
    // Version 2 has no incompatible features at all; QEMU's words.
    if (header_.external_data()) {
      return Error(path + ": Cannot downgrade an image with a data file");
    }
    if (uint64_t kept = header_.incompatible_features & kIncompatExtendedL2; kept != 0) {
      char hex_bits[24];
      snprintf(hex_bits, sizeof(hex_bits), "0x%llx", static_cast<unsigned long long>(kept));
      return Error(path + ": Cannot downgrade an image with incompatible features " + hex_bits +
                   " set");
    }
    if (header_.compression_type != CompressionType::kZlib) {
      // zstd cannot be said in version 2; QEMU refuses when it is in use.
      for (uint64_t c = 0; c * geometry_.cluster_size() < info_.size; ++c) {
        TRY_ASSIGN(Mapping m, lookup(c * geometry_.cluster_size()));
        if (m.kind == ClusterKind::kCompressed) {
          return Error(path +
                       ": cannot downgrade an image with zstd compression type and existing "
                       "compressed clusters");
        }
      }
    }
    TRY(downgrade_zero_clusters());
  } else if (version > header_.version) {
    // Version 3 snapshot entries must record the disk size (QEMU's upgrade
    // rewrites them too). Written while still version 2, which ignores the
    // extra data: a crash before the header switch leaves a valid image.
    TRY(complete_snapshot_entries());
  }
  // Version 2 has no autoclear bits to vouch for bitmaps: they go, their
  // clusters freed, once nothing else can make the downgrade fail.
  if (version < 3 && !bitmaps_.empty()) TRY(store_bitmaps_locked({}));
  // Refcounts exact and the dirty bit clear before the flags change: turning
  // lazy refcounts off (or leaving version 3) must not leave a dirty image.
  TRY(settle_all());
  Qcow2Header saved = header_;
  header_.version = version;
  if (version < 3) {
    header_.incompatible_features = 0;
    header_.compatible_features = 0;
    header_.autoclear_features = 0;
    header_.refcount_order = kDefaultRefcountOrder;
    header_.compression_type = CompressionType::kZlib;
  } else if (lazy) {
    header_.compatible_features |= kCompatLazyRefcounts;
  } else {
    header_.compatible_features &= ~kCompatLazyRefcounts;
  }
  auto written = rewrite_header();
  if (!written.ok()) {
    header_ = std::move(saved);
    return written;
  }
  lazy_refcounts_ = lazy && version >= 3;
  info_.version = version;
  info_.lazy_refcounts = lazy && version >= 3;
  info_.compression_type = header_.compression_type;
  return Ok();
}

Result<void> Qcow2Image::set_backing(const std::string& backing_file,
                                     const std::string& backing_format) {
  std::lock_guard<std::mutex> lock(mu_);
  wait_for_unlocked_writes();
  TRY(check_request(0, 0, true));
  // Raw external data "conflicts with backing files": the data file alone
  // would no longer be the disk.
  if (!backing_file.empty() && info_.data_file_raw) {
    return Error(file_->path() +
                 ": an image whose external data file is raw cannot have a backing file");
  }
  TRY(settle_all());
  Qcow2Header saved = header_;
  header_.backing_file = backing_file;
  header_.backing_format = backing_file.empty() ? std::string() : backing_format;
  auto written = rewrite_header();
  if (!written.ok()) {
    header_ = std::move(saved);
    return written;
  }
  info_.backing_file = header_.backing_file;
  info_.backing_format = header_.backing_format;
  // Reads now go to the new backing file.
  backing_.reset();
  backing_size_ = 0;
  return open_backing(ChainState{});
}

}  // namespace vessel::block
