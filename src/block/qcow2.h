// A qcow2 disk image (QEMU docs/interop/qcow2.txt), versions 2 and 3:
// clusters of 512 B to 2 MiB, refcounts of 1 to 64 bits, zero clusters,
// compressed clusters (zlib and zstd), extended L2 entries (32 subclusters
// per cluster, each allocated on its own), external data files (guest data
// in a separate file at the guest offsets), backing chains, and copy-on-write
// allocation that keeps the image consistent across a crash (at worst leaked
// clusters), internal snapshots (created, applied and deleted like
// qemu-img snapshot) and in-place edits (resize, amend, new backing file,
// emptying).
//
// Files: qcow2_format.h (on-disk constants), qcow2_header.* (header and
// extensions), qcow2_snapshot.* (snapshot table), qcow2_cache.* (metadata
// cache), qcow2_refcount.* (host cluster allocation), qcow2_compress.*,
// and the image itself in qcow2.cc (open, mapping, read), qcow2_write.cc
// (allocation, write, zeroes, flush), qcow2_write_run.cc (runs of new
// clusters in one write), qcow2_subcluster_write.cc (writes and zeroes with
// extended L2 entries), qcow2_compressed_write.cc, qcow2_backing.cc,
// qcow2_repair.cc, qcow2_create.cc, qcow2_snapshot_ops.cc, qcow2_resize.cc
// (resize, make_empty), qcow2_amend.cc (header rewrites) and
// qcow2_data_file.cc (the external data file: opening, creating, where guest
// clusters go) and qcow2_bitmap*.{h,cc} (persistent dirty bitmaps: read,
// stored anew by `vessel img bitmap`, and the enabled ones recording the
// guest's writes, qcow2_bitmap_track.cc).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "block/block_backend.h"
#include "block/extent_size_hint.h"
#include "block/host_file.h"
#include "block/qcow2_bitmap.h"
#include "block/qcow2_cache.h"
#include "block/qcow2_header.h"
#include "block/qcow2_refcount.h"
#include "block/qcow2_snapshot.h"

namespace vessel::block {

// The "compat" option of qemu-img: "0.10" is version 2, "1.1" version 3.
enum class Qcow2Version : uint32_t { kV2 = 2, kV3 = 3 };
Result<Qcow2Version> parse_qcow2_compat(std::string_view compat);
// The "refcount_bits" option: a power of two from 1 to 64 (qcow2 spec:
// refcount_order 0 to 6). The error is qemu-img's wording.
Result<uint32_t> parse_qcow2_refcount_bits(std::string_view bits);
// A backing file name relative to the directory of the image naming it
// (qcow2 spec: "backing file name"; absolute names are kept).
std::string resolve_backing_path(const std::string& image_path, const std::string& name);

enum class Qcow2Preallocation { kOff, kMetadata };

struct Qcow2CreateOptions {
  // Virtual disk size in bytes, a multiple of 512. 0 with a backing file:
  // the backing file's size.
  uint64_t size = 0;
  uint32_t cluster_size = 65536;  // a power of two from 512 B to 2 MiB
  Qcow2Version version = Qcow2Version::kV3;
  uint32_t refcount_bits = 16;  // a power of two from 1 to 64; 16 for version 2
  bool lazy_refcounts = false;  // version 3 only
  // Stored as given; a relative name is relative to the new image's directory.
  std::string backing_file;
  // "qcow2" or "raw"; required with a backing file (it is recorded in the
  // image so later opens need not probe).
  std::string backing_format;
  // qemu-img create -u: the backing file is recorded without being opened
  // (it may not exist yet); `size` must then be given.
  bool backing_unchecked = false;
  Qcow2Preallocation preallocation = Qcow2Preallocation::kOff;
  // zstd needs version 3.
  qcow2::CompressionType compression_type = qcow2::CompressionType::kZlib;
  // Extended L2 entries (subclusters): version 3 and clusters of at least
  // 16 KiB only.
  bool extended_l2 = false;
  // An external data file (version 3 only), created (replacing any file of
  // that name) with the disk's size and recorded as given. As with QEMU, a
  // relative name is relative to the current directory, not to the image.
  std::string data_file;
  // The data file alone is a valid raw image ("raw external data"): needs
  // data_file, excludes a backing file, implies metadata preallocation.
  bool data_file_raw = false;
  // The extent size hint of the new files (extent_size_hint.h; QEMU's 1 MiB
  // by default). `warn` hears why it could not be set, when it is not null.
  uint64_t extent_size_hint = kDefaultExtentSizeHint;
  std::function<void(const std::string&)> warn;
  // false: no fdatasync (see Qcow2OpenOptions::sync).
  bool sync = true;
};

// What `qemu-img amend` may change; unset fields stay as they are.
struct Qcow2AmendOptions {
  bool set_version = false;
  Qcow2Version version = Qcow2Version::kV3;
  bool set_lazy_refcounts = false;
  bool lazy_refcounts = false;
};

// What opening an image does with the backing file it names.
enum class Qcow2BackingPolicy {
  kOpen,  // open it (and its own backing chain)
  // Leave it closed (clusters it would provide read as zeros): only for
  // header edits (set_backing) of an image whose backing file may be
  // missing; data written then would copy zeros, not its data.
  kIgnore,
  // Refuse the image, so that opening an untrusted image touches no other file.
  kRefuse,
};

struct Qcow2OpenOptions {
  Access access = Access::kReadOnly;
  // Memory for cached L2 tables; 0: enough to map the whole disk, at most 32 MiB.
  uint64_t l2_cache_bytes = 0;
  // false: never fdatasync (qemu's cache=unsafe). The writes keep their
  // order, but the host may put them on disk in any order, so after a host
  // crash the image may be damaged. For new images nobody relies on yet.
  bool sync = true;
  // How the image file (and its backing chain, as in qemu, where children
  // inherit cache.direct) meets the host page cache.
  HostCache host_cache = HostCache::kWriteback;
  Qcow2BackingPolicy backing = Qcow2BackingPolicy::kOpen;
  // The disk as an internal snapshot saved it, read-only (qemu-img convert
  // -l snapshot.id=ID,snapshot.name=NAME): the snapshot whose ID and name
  // match those given (an empty one matches any). Both empty: the active disk.
  std::string snapshot_id = {};
  std::string snapshot_name = {};
  // The external data file to use instead of the one the image names (QEMU's
  // "data-file" option). With kRefuse an image naming a data file opens only
  // with this set, since otherwise an untrusted image picks the file.
  std::string data_file{};
  // Opened to be checked and repaired (qemu's BDRV_O_CHECK): an image whose
  // header names no refcount table opens, so that repair() can build one.
  // Nothing but repair() may write to such an image.
  bool repair = false;
};

// What a new internal snapshot records besides the disk.
struct Qcow2NewSnapshot {
  std::string name;
  // Bytes of VM state written at vm_state_offset() that belong to the
  // snapshot (0: a disk-only snapshot).
  uint64_t vm_state_size = 0;
  // The guest clock when the VM was saved, in nanoseconds.
  uint64_t vm_clock_nsec = 0;
  // qemu-img records 0 (no VM ran); a VM saved outside record/replay -1.
  int64_t icount = 0;
};

// What the header says, for tools (`vessel img info`).
struct Qcow2Info {
  uint32_t version = 3;
  uint64_t size = 0;
  uint32_t cluster_size = 0;
  uint32_t refcount_bits = 16;
  qcow2::CompressionType compression_type = qcow2::CompressionType::kZlib;
  bool lazy_refcounts = false;
  bool extended_l2 = false;    // 32 subclusters per cluster
  bool dirty = false;          // as found on open (repaired when opened read-write)
  bool corrupt = false;        // as found on open
  std::string backing_file;    // as stored in the image
  std::string backing_format;  // as stored; empty when it was probed
  std::string data_file;       // external data file name as stored; empty: none
  bool external_data = false;  // guest data lives in an external data file
  bool data_file_raw = false;
  uint32_t snapshot_count = 0;
};

class Qcow2Image : public BlockBackend {
 public:
  using OpenOptions = Qcow2OpenOptions;
  using CreateOptions = Qcow2CreateOptions;

  // Opens a qcow2 image and its backing chain (read-only). The caller states
  // that `path` is qcow2; only backing files without a recorded format are
  // probed. Read-write opening repairs the refcounts of an image left dirty
  // and refuses an image marked corrupt. Every error names the file.
  static Result<std::unique_ptr<Qcow2Image>> open(const std::string& path, OpenOptions options);
  // Writes a new, empty image at `path` (replacing any file there).
  static Result<void> create(const std::string& path, CreateOptions options);

  // Closes the image; an error of the implicit close() is logged.
  ~Qcow2Image() override;
  Qcow2Image(const Qcow2Image&) = delete;
  Qcow2Image& operator=(const Qcow2Image&) = delete;

  Result<void> read(uint64_t offset, std::span<uint8_t> out) override;
  Result<void> write(uint64_t offset, std::span<const uint8_t> data) override;
  // Makes every completed write and the metadata that maps it durable.
  Result<void> flush() override;
  uint64_t size() const override { return info_.size; }
  // True when every cluster of the range is a zero cluster, or unallocated
  // with nothing (or a known-zero part) of the backing file below it.
  Result<bool> known_zero(uint64_t offset, uint64_t length) override;
  bool read_only() const override { return file_->read_only(); }

  // Whole clusters become zero clusters (version 3) or unallocated ones;
  // kKeepAllocation keeps their host clusters as preallocation. With
  // extended L2 entries whole subclusters become zero subclusters.
  Result<void> write_zeroes(uint64_t offset, uint64_t length, ZeroMode mode) override;
  // As QEMU: whole clusters only (and the disk's last, partial one); they
  // become zero clusters in version 3 and unallocated in version 2, where
  // they then read from the backing file.
  Result<void> discard(uint64_t offset, uint64_t length) override;
  // Stores one whole guest cluster (at a cluster-aligned offset; the last
  // cluster may be shorter when the disk ends inside it) compressed with the
  // image's compression type. Compressed clusters share host clusters.
  // Data that does not shrink is written normally. The compression runs
  // outside the image's lock: callers on several threads compress in parallel.
  Result<void> write_compressed(uint64_t offset, std::span<const uint8_t> data);
  // Flushes, releases freed clusters and clears the dirty bit. Later calls
  // other than close() fail.
  Result<void> close();

  // Editing (qcow2_resize.cc, qcow2_amend.cc). The image must be open
  // read-write.
  // Changes the virtual size (a multiple of 512). Shrinking frees every
  // cluster past the new end and needs `allow_shrink`. Persistent bitmaps
  // are resized along, as QEMU does (new bits clear); an inconsistent one
  // (in use when the image was opened) makes it fail.
  Result<void> resize(uint64_t new_size, bool allow_shrink);
  // Changes the version or lazy refcounts, rewriting the header cluster.
  // Version 2 cannot keep persistent bitmaps: a downgrade removes them
  // (QEMU leaves them behind as an extension version 2 ignores, leaked).
  Result<void> amend(const Qcow2AmendOptions& options);
  // Records a new backing file name and format (empty name: none) without
  // touching any data; reads then go to the new backing file (which is not
  // opened with Qcow2BackingPolicy::kIgnore). Bitmaps are left as they are,
  // as qemu-img rebase -u leaves them.
  Result<void> set_backing(const std::string& backing_file, const std::string& backing_format);
  // Makes every cluster of the image unallocated, so that it reads through
  // to its backing file; internal snapshots keep their clusters. For the end
  // of a commit, where the disk reads the same before and after: as with
  // QEMU's, no bitmap records it.
  Result<void> make_empty();

  // How the cluster holding `guest_offset` is stored in this image itself
  // (not in its backing file), for `vessel img map`; `host_offset` is the host
  // cluster for kData, and for kZero when the cluster keeps one (0 if not). `length`: the bytes
  // from `guest_offset` to the end of the cluster, or of the run of subclusters stored alike with
  // extended L2 entries.
  enum class Allocation { kUnallocated, kZero, kData, kCompressed };
  struct ClusterAllocation {
    Allocation allocation = Allocation::kUnallocated;
    uint64_t host_offset = 0;
    uint64_t length = 0;
  };
  Result<ClusterAllocation> cluster_allocation(uint64_t guest_offset);

  // `vessel img check -r` (qcow2_repair.cc), as qemu-img check -r: counts
  // every reference, then kLeaks lowers refcounts that are too high; kAll
  // also raises those that are too low (rebuilding the whole refcount
  // structure when a referenced cluster has refcount 0, or when there is no
  // refcount table at all) and fixes "copied" flags. `messages` are the lines
  // qemu-img prints on stderr, in order.
  enum class RepairMode { kLeaks, kAll };
  struct RepairReport {
    uint64_t leaks_fixed = 0;
    uint64_t corruptions_fixed = 0;
    std::vector<std::string> messages;
  };
  Result<RepairReport> repair(RepairMode mode);

  const Qcow2Info& info() const { return info_; }
  const std::string& path() const { return file_->path(); }
  // The file guest clusters are in: the external data file, or the image.
  const std::string& data_path() const { return data_file_ ? data_file_->path() : file_->path(); }
  const std::vector<Qcow2Snapshot>& snapshots() const { return snapshots_.snapshots; }
  // The persistent dirty bitmaps (qcow2_bitmap.h), as the image had them
  // when opened or last stored: in use only when found so (inconsistent,
  // left by a crash), not for being marked while they record writes.
  const std::vector<Qcow2Bitmap>& bitmaps() const { return bitmaps_; }
  // Persistent dirty bitmaps (qcow2_bitmap_store.cc). The bits of
  // bitmaps()[index]: those recorded in memory while it records writes,
  // else read through its table.
  Result<Qcow2BitmapBits> read_bitmap(size_t index);
  // Makes `bitmaps` the image's bitmap directory, in that order (none: the
  // bitmaps extension goes). Entries with keep_table keep the table of the
  // bitmap of bitmaps() they came from; the others get their bits written to
  // new clusters. Ordering as for every qcow2 change: the new data, tables and
  // directory, and their refcounts, are synced before the header points at
  // them (with the autoclear bitmaps bit set); only then are the old
  // directory and the tables no entry keeps (with their data) freed. The
  // image must be open read-write, version 3. A bitmap recording writes
  // that an entry keeps is stored with its recorded bits, its in-use flag
  // clear; recording starts anew at the next write.
  Result<void> store_bitmaps(const std::vector<Qcow2BitmapEdit>& bitmaps);
  // The next image of the chain (nullptr when there is none).
  const BlockBackend* backing() const { return backing_.get(); }

  // Internal snapshots (qcow2_snapshot_ops.cc). Lookup as QEMU does it: the
  // snapshot whose ID is `id_or_name`, else the first one with that name.
  Result<size_t> find_snapshot(std::string_view id_or_name) const;
  // Saves the disk as it is now under `name` with the next numeric ID
  // (largest ID + 1), dated now; returns the ID.
  Result<std::string> create_snapshot(std::string_view name);
  // The same, with the VM state fields of `snapshot`: the snapshot keeps the
  // VM state area as it is now (write_vm_state) along with the disk.
  Result<std::string> create_snapshot(const Qcow2NewSnapshot& snapshot);
  // Makes the disk (contents and size) what snapshot `index` saved.
  Result<void> apply_snapshot(size_t index);
  Result<void> delete_snapshot(size_t index);

  // The VM state area (qcow2_vm_state.cc), where QEMU's savevm puts a VM's
  // state (bdrv_save_vmstate): guest offsets from vm_state_offset() on, past
  // the disk, mapped by the L1 and L2 tables like the disk itself, so that a
  // snapshot taken afterwards keeps it. The image must be open read-write to
  // write. `pos` counts from the start of the area.
  // QEMU's qcow2_vm_state_offset(): the disk size rounded up to the bytes one
  // L1 entry maps.
  uint64_t vm_state_offset() const;
  Result<void> write_vm_state(uint64_t pos, std::span<const uint8_t> data);
  Result<void> read_vm_state(uint64_t pos, std::span<uint8_t> out);
  // Unmaps the whole area from the active tables (snapshots keep theirs), as
  // QEMU does once a snapshot holds the state: the active disk then carries
  // no stale VM state that would cost copies on the next save or show up in
  // the disk if it grew.
  Result<void> discard_vm_state();

 private:
  struct ChainState {
    uint32_t depth = 0;
    std::vector<FileIdentity> above;  // images that have this one in their chain
  };
  enum class ClusterKind { kUnallocated, kZero, kNormal, kCompressed };
  struct Mapping {
    ClusterKind kind = ClusterKind::kUnallocated;
    uint64_t entry = 0;   // the raw L2 entry
    uint64_t host = 0;    // host cluster offset (normal, zero with preallocation)
    uint64_t bitmap = 0;  // the subcluster bitmap of an extended L2 entry
    // `host` is a cluster: with an external data file it may be 0.
    bool has_host = false;
  };
  struct DataCluster {
    uint64_t offset;
    bool fresh;  // new at the end of the file: reads as zeros
  };
  struct Release {
    uint64_t offset;
    uint64_t length;
    bool l2_table;
  };

  Qcow2Image(std::unique_ptr<HostFile> file, Qcow2Header header, const OpenOptions& options);
  static Result<std::unique_ptr<Qcow2Image>> open_in_chain(const std::string& path,
                                                           const OpenOptions& options,
                                                           ChainState chain);
  friend class Qcow2SnapshotOps;

  Result<void> load();
  // Rebuilds fixed_metadata_ and l2_clusters_ from the header, the snapshot
  // table and the active L1 table.
  void index_metadata();
  // Makes the refcounts exact on disk and the dirty bit clear, without
  // closing: the state a header rewrite starts from.
  Result<void> settle_all();
  // Writes header_ (and its extensions) as a new header cluster, in one write.
  Result<void> rewrite_header();
  Result<void> shrink_to(uint64_t new_size);
  Result<void> grow_to(uint64_t new_size);
  Result<void> grow_l1(uint64_t new_l1_size);
  // Unmaps every L2 table from L1 index `first` on, releasing what only
  // those tables referred to.
  Result<void> drop_l2_tables(uint64_t first);
  Result<void> downgrade_zero_clusters();
  // Snapshot entries with less extra data than version 3 requires (written
  // by old version 2 writers), by index; complete_snapshot_entries()
  // rewrites the table with QEMU's 24 bytes in every entry.
  std::vector<size_t> incomplete_snapshot_entries() const;
  Result<void> complete_snapshot_entries();
  Result<void> open_backing(const ChainState& chain);
  // The external data file (qcow2_data_file.cc).
  Result<void> open_data_file(const OpenOptions& options);
  // Where guest data is: the external data file, or the image file.
  HostFile& guest_data() { return data_file_ ? *data_file_ : *file_; }
  // Host clusters for `count` guest clusters from `guest_offset` on: new
  // clusters of the image file, or with an external data file the guest
  // offsets themselves ("must match the guest offset").
  Result<DataCluster> allocate_data(uint64_t guest_offset, uint64_t count);
  // With raw external data: the data file's bytes of a range that now reads
  // as zeros become zeros too, so the data file alone stays the disk.
  Result<void> zero_raw_data(uint64_t offset, uint64_t length);
  Result<void> check_no_external_data(const char* what) const;
  Result<void> prepare_for_writing();
  // Recording writes in the enabled bitmaps (qcow2_bitmap_track.cc).
  // Before the first change of what the guest sees: the bits of the enabled,
  // consistent bitmaps are loaded, and they get the in-use flag on disk.
  Result<void> mark_bitmaps_in_use();
  // Every change of what the guest sees at [offset, offset + length)
  // (write, write_zeroes, discard, compressed write), with mu_ held.
  Result<void> record_write(uint64_t offset, uint64_t length);
  // The in-use flag of bitmaps_[i] for each i of `indices`, written in place
  // and synced.
  Result<void> write_in_use_flags(const std::vector<size_t>& indices);
  // At close: the recording bitmaps stored with their bits, flags clear.
  Result<void> store_recorded_bitmaps();
  Result<void> store_bitmaps_locked(const std::vector<Qcow2BitmapEdit>& bitmaps);
  // resize()'s part: every bitmap with its current bits, all marked in use
  // until store_resized_bitmaps() stores them for the new size (their
  // tables do not fit it meanwhile); refused when one is inconsistent.
  Result<std::vector<Qcow2BitmapEdit>> bitmaps_for_resize();
  Result<void> store_resized_bitmaps(std::vector<Qcow2BitmapEdit> bitmaps, uint64_t new_size);
  Result<void> repair_refcounts();
  // store_bitmaps()'s pieces: `bits` written to new clusters (all-zero
  // clusters left out, as "Bitmap table" allows) and a new table for them,
  // whose offset and size go into `entry`; the clusters a bitmap's table
  // and data use, released.
  Result<void> write_bitmap_data(const Qcow2BitmapBits& bits, Qcow2Bitmap& entry);
  Result<void> release_bitmap(const Qcow2Bitmap& bitmap);
  // References to every host cluster of the file from the header, L1/L2
  // tables (active and snapshots) and the snapshot table; with
  // `refcount_structure` also from the refcount table and blocks.
  Result<std::vector<uint32_t>> count_references(bool refcount_structure);
  Result<void> preallocate();
  Result<void> preallocate_locked(uint64_t first_cluster);

  // Mapping (qcow2.cc).
  Error corruption(const std::string& what);
  bool is_metadata_cluster(uint64_t cluster) const;
  Result<Mapping> classify(uint64_t entry, uint64_t guest_offset, bool check_overlap,
                           uint64_t bitmap = 0);
  Result<Mapping> lookup(uint64_t guest_offset);
  // Entry `index` of an L2 table, and its subcluster bitmap (0 without
  // extended L2 entries).
  uint64_t l2_entry(const Qcow2Table& table, uint64_t index) const;
  uint64_t l2_bitmap(const Qcow2Table& table, uint64_t index) const;
  // Sets entry `index` of an L2 table: the descriptor and, with extended L2
  // entries, its bitmap (ignored without); set_l2_descriptor keeps the bitmap.
  void set_l2(Qcow2Table& table, uint64_t index, uint64_t entry, uint64_t bitmap) const;
  void set_l2_descriptor(Qcow2Table& table, uint64_t index, uint64_t entry) const;
  // With extended L2 entries: `m` narrowed to the subcluster holding
  // `in_cluster` (its kind; host stays the cluster's), and in `run` the bytes
  // from there to the end of the run of subclusters stored alike.
  // Without: `m` as is and the rest of the cluster.
  Mapping subcluster(const Mapping& m, uint64_t in_cluster, uint64_t* run) const;
  Result<void> read_backing(uint64_t guest_offset, std::span<uint8_t> out);
  Result<void> read_compressed(const Mapping& m, std::span<uint8_t> cluster);
  Result<void> read_cluster_contents(uint64_t guest_cluster_offset, const Mapping& m,
                                     std::span<uint8_t> cluster);
  // read() with mu_ held. With `lock` (the caller's lock on mu_), a read-only
  // image lets go of it while reading data.
  Result<void> read_locked(uint64_t offset, std::span<uint8_t> out,
                           std::unique_lock<std::mutex>* lock);
  Result<void> check_request(uint64_t offset, uint64_t length, bool for_write) const;

  // Writing (qcow2_write.cc).
  // Where a write of `length` bytes at `offset` goes when it can go there in
  // place, without mu_: inside one cluster of the image's own (refcount 1,
  // in an L2 table of its own), no subclusters. 0: it cannot.
  Result<uint64_t> in_place_target(uint64_t offset, uint64_t length);
  // Writes `data` at host offset `host` (from in_place_target) with `lock`
  // (on mu_) let go meanwhile, so that writes to different clusters reach the
  // file together: with O_DIRECT each waits for the device, and one at a time
  // they would be as slow as a queue depth of 1.
  Result<void> write_in_place(uint64_t host, std::span<const uint8_t> data,
                              std::unique_lock<std::mutex>& lock);
  // With mu_ held: waits until no write_in_place() is running, for changes
  // that may share, move or free the clusters such writes go to (snapshots,
  // resizing, header rewrites, repairs, closing).
  void wait_for_unlocked_writes();
  // write() without the checks, at any guest offset the L1 table covers.
  Result<void> write_locked(uint64_t offset, std::span<const uint8_t> data);
  // Where the guest area holding `offset` ends: the disk's size inside the
  // disk, no end (UINT64_MAX) in the VM state area past it.
  uint64_t area_end(uint64_t offset) const { return offset < info_.size ? info_.size : UINT64_MAX; }
  // Before any L2 or L1 table is written: the refcounts it relies on are
  // written (then the caller syncs), or with lazy refcounts the dirty bit is.
  Result<void> settle_refcounts();
  Result<Qcow2Table*> l2_table_for_write(uint64_t l1_index);
  Result<void> write_chunk(uint64_t guest_offset, std::span<const uint8_t> data);
  // Whole clusters without a host cluster, from `guest_offset` on, written
  // as one contiguous run (qcow2_write_run.cc). Returns the bytes written;
  // 0 when fewer than two clusters qualify.
  Result<uint64_t> write_new_run(uint64_t guest_offset, std::span<const uint8_t> data);
  Result<void> zero_cluster(uint64_t guest_offset, ZeroMode mode);
  // With extended L2 entries (qcow2_subcluster_write.cc): `data` inside one
  // cluster, allocating only the subclusters it touches; zero subclusters
  // [first, end) of the cluster at `cluster_offset`; write_zeroes for them.
  Result<void> write_subclusters(uint64_t guest_offset, std::span<const uint8_t> data);
  Result<void> zero_subclusters(uint64_t cluster_offset, uint64_t first, uint64_t end);
  Result<void> write_zeroes_subclusters(uint64_t offset, uint64_t length, ZeroMode mode);
  // Whole clusters, as QEMU leaves them (qcow2-cluster.c zero_in_l2_slice,
  // discard_in_l2_slice), so that maps of the same requests agree.
  Result<void> zero_cluster_subclusters(uint64_t guest_offset, ZeroMode mode);
  Result<void> discard_cluster_subclusters(uint64_t guest_offset);
  // True when the guest reads [offset, offset + length) as zeros without
  // looking at data: zero clusters or subclusters, unallocated ones with no
  // backing file below.
  Result<bool> reads_as_zeros(uint64_t offset, uint64_t length);
  Result<void> deallocate_cluster(uint64_t guest_offset);
  Result<void> write_zeroes_locked(uint64_t offset, uint64_t length, ZeroMode mode);
  void release_later(const Mapping& m);
  Result<void> sync_if_needed();
  Result<void> write_l1();
  Result<void> flush_locked();
  Result<void> punch_free_clusters(uint64_t offset, uint64_t length);
  Result<void> close_locked();
  Result<void> set_incompatible_bit(uint64_t bit, bool on);

  std::mutex mu_;
  // write_in_place() calls running without mu_ (guarded by mu_), and their
  // end. While there are any, freed clusters are not released (flush_locked),
  // so that none is handed out again under a write still on its way to it.
  uint32_t unlocked_writes_ = 0;
  std::condition_variable_any unlocked_writes_done_;
  std::unique_ptr<HostFile> file_;
  Qcow2Header header_;
  qcow2::Geometry geometry_;
  Qcow2Info info_;
  OpenOptions options_;
  Qcow2SnapshotTable snapshots_;
  std::vector<Qcow2Bitmap> bitmaps_;
  // The bitmaps recording writes: bitmaps_[index] with its bits in memory.
  // bitmaps_marked_: they are loaded and marked in use on disk.
  struct RecordingBitmap {
    size_t index;
    Qcow2BitmapBits bits;
  };
  std::vector<RecordingBitmap> recording_bitmaps_;
  bool bitmaps_marked_ = false;
  std::vector<uint64_t> l1_;
  std::set<uint64_t> l1_dirty_sectors_;
  std::unique_ptr<Qcow2TableCache> l2_cache_;
  std::unique_ptr<Qcow2Refcounts> refcounts_;
  std::unordered_set<uint64_t> l2_clusters_;  // clusters of the active L2 tables
  // Fixed metadata as [first, last) cluster ranges: header, L1 tables,
  // snapshot table.
  std::vector<std::pair<uint64_t, uint64_t>> fixed_metadata_;
  std::unique_ptr<BlockBackend> backing_;
  std::unique_ptr<HostFile> data_file_;  // nullptr: no external data file
  uint64_t backing_size_ = 0;
  std::vector<Release> pending_releases_;
  bool lazy_refcounts_ = false;
  bool dirty_on_disk_ = false;
  bool unsynced_ = false;
  bool corrupt_ = false;
  bool closed_ = false;
  // Where the next compressed cluster may go: the free tail of the host
  // cluster the last one ended in (0: none). Forgotten when clusters are
  // released, since that cluster may then be free.
  uint64_t compressed_tail_ = 0;
  // The last decompressed cluster, keyed by its L2 entry.
  uint64_t decompressed_entry_ = 0;
  std::vector<uint8_t> decompressed_;
};

}  // namespace vessel::block
