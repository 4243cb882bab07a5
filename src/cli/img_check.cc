// vessel img check: an independent walk of a qcow2 image's metadata. Every
// cluster reachable from the header, the L1/L2 tables (active and of each
// snapshot), the refcount structures and the snapshot table is counted, and
// the counts are compared with the stored refcounts, as qemu-img check does.
#include <algorithm>
#include <cstdio>
#include <map>

#include "block/host_file.h"
#include "block/qcow2_bitmap.h"
#include "block/qcow2_header.h"
#include "block/qcow2_snapshot.h"
#include "cli/img_common.h"
#include "cli/img_image_spec.h"
#include "cli/img_verbs.h"

namespace vessel::cli::img {
namespace {

constexpr int kExitCorrupt = 2;
constexpr int kExitLeaks = 3;
constexpr int kExitNotSupported = 63;

void print_help() {
  std::printf(
      "Usage: vessel img check [-q] [-f fmt] [--output=human|json] [-r leaks|all] [-U]\n"
      "                        filename\n"
      "\n"
      "Checks a qcow2 image for consistency: walks the L1 and L2 tables of the\n"
      "active image and of every internal snapshot, the refcount table and blocks\n"
      "and the snapshot table, and compares the references it counts with the\n"
      "stored refcounts and the L1/L2 'copied' flags. With -r the problems found\n"
      "are repaired and the image is checked again. An image left dirty (not\n"
      "closed cleanly) gets its whole refcount structure rebuilt by either -r\n"
      "mode. The clusters of persistent dirty bitmaps are counted too.\n"
      "\n"
      "Options:\n"
      "  -f fmt          qcow2 (probed when absent); raw cannot be checked\n"
      "  --output=FMT    human (default) or json\n"
      "  -q              quiet: only the exit status tells\n"
      "  -r leaks        free leaked clusters (refcounts higher than the references)\n"
      "  -r all          also fix refcounts that are too low (rebuilding the refcount\n"
      "                  structure when a cluster in use has refcount 0, or when the\n"
      "                  image has no refcount table) and wrong 'copied' flags\n"
      "  -U              accepted for compatibility (images are never locked)\n"
      "  -h, --help      show this help\n"
      "\n"
      "Exit status:\n"
      "  0   no errors were found (after repair, with -r)\n"
      "  1   the check could not be completed (unreadable or unparsable image)\n"
      "  2   the image is corrupted\n"
      "  3   clusters are leaked (wasted space, no harm to data)\n"
      "  63  the format (raw) does not support checks\n");
  print_image_args_help(kImageArgs);
}

struct Checker {
  const block::HostFile& file;
  const block::Qcow2Header& h;
  uint64_t cs;
  uint64_t file_clusters;
  bool quiet;
  std::vector<uint64_t> refs;
  uint64_t corruptions = 0, leaks = 0, check_errors = 0;
  uint64_t allocated = 0, fragmented = 0, compressed = 0;
  uint64_t next_contiguous = 0;
  // Active entries whose copied flag is checked against refcount == 1.
  struct CopiedCheck {
    uint64_t cluster;
    uint64_t entry;
    bool l2_table;
    uint64_t l1_index;
  };
  std::vector<CopiedCheck> copied;

  void error(const std::string& line) {
    ++corruptions;
    if (!quiet) std::fprintf(stderr, "%s\n", line.c_str());
  }

  void ref(uint64_t offset, uint64_t length, const char* what) {
    if (length == 0) return;
    uint64_t first = offset / cs, last = (offset + length - 1) / cs;
    for (uint64_t c = first; c <= last; ++c) {
      if (c >= file_clusters) {
        error("ERROR " + std::string(what) + " at offset " + std::to_string(offset) +
              " lies beyond the end of the image file");
        return;
      }
      ++refs[c];
    }
  }

  Result<std::vector<uint64_t>> read_table(uint64_t offset, uint64_t entries) {
    std::vector<uint8_t> bytes(entries * 8);
    TRY(file.read_padded(offset, bytes));
    std::vector<uint64_t> out(entries);
    for (uint64_t i = 0; i < entries; ++i) out[i] = block::qcow2::load_be64(&bytes[i * 8]);
    return out;
  }

  Result<void> walk_l1(uint64_t l1_offset, uint64_t l1_size, bool active) {
    namespace q = block::qcow2;
    const q::Geometry g = h.geometry();
    TRY_ASSIGN(std::vector<uint64_t> l1, read_table(l1_offset, l1_size));
    for (uint64_t i = 0; i < l1.size(); ++i) {
      uint64_t l2_offset = l1[i] & q::kL1OffsetMask;
      if (l2_offset == 0) continue;
      if (l2_offset % cs != 0) {
        error("ERROR L2 table offset " + std::to_string(l2_offset) + " (L1 index " +
              std::to_string(i) + ") is not cluster aligned");
        continue;
      }
      if (l2_offset / cs >= file_clusters) {
        error("ERROR L2 table offset " + std::to_string(l2_offset) + " (L1 index " +
              std::to_string(i) + ") lies beyond the end of the image file");
        continue;
      }
      ref(l2_offset, cs, "L2 table");
      if (active) copied.push_back({l2_offset / cs, l1[i], true, i});
      // Extended L2 entries: descriptor, then the subcluster bitmap.
      const uint64_t words = g.l2_entry_bytes() / 8;
      TRY_ASSIGN(std::vector<uint64_t> l2, read_table(l2_offset, g.l2_entries() * words));
      for (uint64_t j = 0; j < g.l2_entries(); ++j) {
        const uint64_t e = l2[j * words];
        const uint64_t bitmap = g.extended_l2 ? l2[j * words + 1] : 0;
        if ((e & q::kOflagCompressed) && bitmap != 0) {
          char line[160];
          std::snprintf(line, sizeof line,
                        "ERROR compressed cluster %llu with non-zero subcluster allocation "
                        "bitmap, entry=0x%llx",
                        static_cast<unsigned long long>(j), static_cast<unsigned long long>(e));
          error(line);
          continue;
        }
        if (e & q::kOflagCompressed) {
          q::CompressedExtent x = q::compressed_extent(g, e);
          ref(x.offset, x.length, "compressed cluster");
          if (active) {
            ++allocated;
            ++compressed;
            ++fragmented;  // compressed clusters are fragmented by nature
          }
          continue;
        }
        uint64_t data = e & q::kL2OffsetMask;
        // External data file: offset 0 with the copied flag is a cluster at
        // offset 0 of that file; its clusters are not refcounted ("implicit
        // refcount of 1"), so only the copied flag is checked.
        const bool external = h.external_data();
        const bool zero_flag = !g.extended_l2 && (e & q::kOflagZero) != 0;
        if (external && (data != 0 || ((e & q::kOflagCopied) != 0 && !zero_flag))) {
          if (active) {
            ++allocated;
            if (next_contiguous != 0 && data != next_contiguous) ++fragmented;
            next_contiguous = data + cs;
            if ((e & q::kOflagCopied) == 0) {
              char line[128];
              std::snprintf(line, sizeof line,
                            "ERROR OFLAG_COPIED data cluster: l2_entry=%llx refcount=1",
                            static_cast<unsigned long long>(e));
              error(line);
            }
          }
          continue;
        }
        if (data == 0) {
          if (bitmap & q::kSubclusterAllocMask) {
            error("ERROR unallocated cluster (L2 index " + std::to_string(j) +
                  ") has allocated subclusters");
          }
          continue;
        }
        if ((bitmap >> 32) & bitmap) {
          char line[160];
          std::snprintf(line, sizeof line,
                        "ERROR offset=%llx: Allocated cluster has corrupted subcluster "
                        "allocation bitmap",
                        static_cast<unsigned long long>(data));
          error(line);
        }
        if (data % cs != 0) {
          error("ERROR data cluster offset " + std::to_string(data) + " is not cluster aligned");
          continue;
        }
        ref(data, cs, "data cluster");
        if (active) {
          ++allocated;
          if (next_contiguous != 0 && data != next_contiguous) ++fragmented;
          next_contiguous = data + cs;
          copied.push_back({data / cs, e, false, 0});
        }
      }
    }
    return Ok();
  }
};

struct CheckSummary {
  uint64_t corruptions = 0, leaks = 0, check_errors = 0;
  uint64_t refcount_corruptions = 0;  // the corruptions that are refcounts too low
  uint64_t zero_refcounts = 0;        // of those, clusters in use with refcount 0
  bool dirty = false;                 // the header's dirty bit
  uint64_t allocated = 0, fragmented = 0, compressed = 0;
  uint64_t end_offset = 0, total = 0;
};

// One full check of `path`; problems found are printed on stderr unless
// `quiet`. Without `check_copied` the "copied" flags are not looked at (as
// qemu-img, which stops before them when the refcounts need a rebuild).
Result<CheckSummary> check_image(const std::string& path, bool quiet, bool check_copied = true) {
  TRY_ASSIGN(auto file, block::HostFile::open(path, block::Access::kReadOnly));
  TRY_ASSIGN(block::Qcow2Header h, block::parse_qcow2_header(*file));
  const uint64_t cs = h.geometry().cluster_size();
  Checker c{*file, h, cs, block::qcow2::div_round_up(file->size(), cs), quiet, {}, 0, 0, 0, 0, 0,
            0,     0, {}};
  c.refs.assign(c.file_clusters, 0);

  c.ref(0, cs, "header");
  c.ref(h.l1_table_offset, uint64_t{h.l1_size} * 8, "L1 table");
  c.ref(h.refcount_table_offset, uint64_t{h.refcount_table_clusters} * cs, "refcount table");
  TRY_ASSIGN(auto rt,
             c.read_table(h.refcount_table_offset, uint64_t{h.refcount_table_clusters} * cs / 8));
  for (uint64_t e : rt) {
    uint64_t off = e & block::qcow2::kRefcountTableOffsetMask;
    if (off == 0) continue;
    if (off % cs != 0) {
      c.error("ERROR refcount block offset " + std::to_string(off) + " is not cluster aligned");
      continue;
    }
    c.ref(off, cs, "refcount block");
  }
  TRY_ASSIGN(auto snaps, block::read_qcow2_snapshots(*file, h));
  for (size_t i = 0; h.version >= 3 && i < snaps.snapshots.size(); ++i) {
    if (snaps.snapshots[i].extra_data_size < block::qcow2::kSnapshotV3MinExtraData) {
      c.error("ERROR snapshot table entry " + std::to_string(i) + " is incomplete");
    }
  }
  if (h.nb_snapshots != 0) c.ref(h.snapshots_offset, snaps.table_bytes, "snapshot table");
  if (h.has_bitmaps_extension && !h.bitmaps_valid() && !quiet) {
    std::fprintf(stderr,
                 "vessel: warning: a program lacking bitmap support modified this file, so all "
                 "bitmaps are now considered inconsistent\n"
                 "Some clusters may be leaked, run 'vessel img check -r' on the image file to "
                 "fix.\n");
  }
  // Persistent bitmaps: directory, tables and the clusters they point to.
  TRY_ASSIGN(auto bitmaps, block::read_qcow2_bitmaps(*file, h));
  TRY_ASSIGN(auto bitmap_ranges, block::qcow2_bitmap_clusters(*file, h, bitmaps));
  for (const auto& [offset, length] : bitmap_ranges) c.ref(offset, length, "bitmap");
  for (const auto& s : snaps.snapshots) {
    c.ref(s.l1_table_offset, uint64_t{s.l1_size} * 8, "snapshot L1 table");
    TRY(c.walk_l1(s.l1_table_offset, s.l1_size, false));
  }
  TRY(c.walk_l1(h.l1_table_offset, h.l1_size, true));

  // Compare with the stored refcounts.
  const uint32_t bits = h.refcount_bits();
  const uint64_t per_block = cs * 8 / bits;
  std::vector<uint8_t> block(cs);
  uint64_t loaded = UINT64_MAX;
  std::vector<uint64_t> stored(c.file_clusters, 0);
  for (uint64_t i = 0; i < c.file_clusters; ++i) {
    uint64_t rt_index = i / per_block;
    uint64_t off = rt_index < rt.size() ? rt[rt_index] & block::qcow2::kRefcountTableOffsetMask : 0;
    if (off == 0 || off % cs != 0 || off / cs >= c.file_clusters) continue;
    if (loaded != rt_index) {
      TRY(file->read_padded(off, block));
      loaded = rt_index;
    }
    stored[i] = block::qcow2::load_refcount(block.data(), i % per_block, bits);
  }
  for (uint64_t i = 0; i < c.file_clusters; ++i) {
    if (stored[i] == c.refs[i]) continue;
    std::string line = std::string(stored[i] < c.refs[i] ? "ERROR" : "Leaked") + " cluster " +
                       std::to_string(i) + " refcount=" + std::to_string(stored[i]) +
                       " reference=" + std::to_string(c.refs[i]);
    if (stored[i] < c.refs[i]) {
      c.error(line);
    } else {
      ++c.leaks;
      if (!c.quiet) std::fprintf(stderr, "%s\n", line.c_str());
    }
  }
  for (const auto& cc : c.copied) {
    if (!check_copied) break;
    bool flag = (cc.entry & block::qcow2::kOflagCopied) != 0;
    if (cc.cluster >= stored.size() || flag == (stored[cc.cluster] == 1)) continue;
    char line[160];
    if (cc.l2_table) {
      std::snprintf(line, sizeof line,
                    "ERROR OFLAG_COPIED L2 cluster: l1_index=%llu l1_entry=%llx refcount=%llu",
                    static_cast<unsigned long long>(cc.l1_index),
                    static_cast<unsigned long long>(cc.entry),
                    static_cast<unsigned long long>(stored[cc.cluster]));
    } else {
      std::snprintf(line, sizeof line,
                    "ERROR OFLAG_COPIED data cluster: l2_entry=%llx refcount=%llu",
                    static_cast<unsigned long long>(cc.entry),
                    static_cast<unsigned long long>(stored[cc.cluster]));
    }
    c.error(line);
  }

  CheckSummary r;
  for (uint64_t i = 0; i < c.file_clusters; ++i) {
    r.refcount_corruptions += stored[i] < c.refs[i];
    r.zero_refcounts += stored[i] == 0 && c.refs[i] != 0;
  }
  r.dirty = (h.incompatible_features & block::qcow2::kIncompatDirty) != 0;
  r.corruptions = c.corruptions;
  r.leaks = c.leaks;
  r.check_errors = c.check_errors;
  r.allocated = c.allocated;
  r.fragmented = c.fragmented;
  r.compressed = c.compressed;
  uint64_t highest = 0;
  for (uint64_t i = 0; i < c.file_clusters; ++i) {
    if (c.refs[i] != 0 || stored[i] != 0) highest = i + 1;  // leaks too, as qemu-img
  }
  r.end_offset = highest * cs;
  r.total = block::qcow2::div_round_up(h.size, cs);
  return r;
}

using ull = unsigned long long;

// `fixed` is the repair's result when one ran; the summary is that of the
// check after it, as qemu-img prints them.
void print_summary(const std::string& path, const CheckSummary& r, bool json, bool quiet,
                   const block::Qcow2Image::RepairReport* fixed) {
  if (json) {
    // qemu-img's order: that of its QDict's hash buckets (tdb_hash % 512 of
    // each key), which is neither the schema's nor alphabetical.
    std::vector<std::pair<const char*, std::string>> fields;
    auto number = [&](const char* key, uint64_t value, bool present) {
      if (present) fields.emplace_back(key, std::to_string(value));
    };
    number("image-end-offset", r.end_offset, true);
    number("compressed-clusters", r.compressed, r.compressed != 0);
    number("total-clusters", r.total, true);
    number("corruptions", r.corruptions, r.corruptions != 0);
    number("corruptions-fixed", fixed ? fixed->corruptions_fixed : 0,
           fixed && fixed->corruptions_fixed);
    number("check-errors", r.check_errors, true);
    number("leaks", r.leaks, r.leaks != 0);
    number("leaks-fixed", fixed ? fixed->leaks_fixed : 0, fixed && fixed->leaks_fixed);
    number("allocated-clusters", r.allocated, r.allocated != 0);
    fields.emplace_back("filename", json_string(path));
    fields.emplace_back("format", "\"qcow2\"");
    number("fragmented-clusters", r.fragmented, r.fragmented != 0);
    std::string out = "{\n";
    for (size_t i = 0; i < fields.size(); ++i) {
      out += "    \"" + std::string(fields[i].first) + "\": " + fields[i].second +
             (i + 1 < fields.size() ? ",\n" : "\n");
    }
    std::printf("%s}\n", out.c_str());
    return;
  }
  if (quiet) return;
  if (r.corruptions == 0 && r.leaks == 0 && r.check_errors == 0) {
    std::printf("No errors were found on the image.\n");
  }
  if (r.corruptions) {
    std::printf(
        "\n%llu errors were found on the image.\n"
        "Data may be corrupted, or further writes to the image may corrupt it.\n",
        static_cast<ull>(r.corruptions));
  }
  if (r.leaks) {
    std::printf(
        "\n%llu leaked clusters were found on the image.\n"
        "This means waste of disk space, but no harm to data.\n",
        static_cast<ull>(r.leaks));
  }
  if (r.total != 0 && r.allocated != 0) {
    double a = static_cast<double>(r.allocated);
    std::printf("%llu/%llu = %0.2f%% allocated, %0.2f%% fragmented, %0.2f%% compressed clusters\n",
                static_cast<ull>(r.allocated), static_cast<ull>(r.total),
                a * 100.0 / static_cast<double>(r.total),
                static_cast<double>(r.fragmented) * 100.0 / a,
                static_cast<double>(r.compressed) * 100.0 / a);
  }
  std::printf("Image end offset: %llu\n", static_cast<ull>(r.end_offset));
}

int exit_status(const CheckSummary& r) {
  if (r.check_errors) return kExitError;
  if (r.corruptions) return kExitCorrupt;
  if (r.leaks) return kExitLeaks;
  return 0;
}

// Opens the image for writing and repairs it. An image left dirty is
// repaired by the open itself (its whole refcount structure is rebuilt);
// `before` (the check that found the problems) then tells what was fixed.
Result<block::Qcow2Image::RepairReport> repair_image(const std::string& path,
                                                     block::Qcow2Image::RepairMode mode,
                                                     const CheckSummary& before) {
  TRY_ASSIGN(auto image,
             block::Qcow2Image::open(path, {.access = block::Access::kReadWrite, .repair = true}));
  block::Qcow2Image::RepairReport report;
  if (before.dirty) {
    report.leaks_fixed = before.leaks;
    report.corruptions_fixed = before.refcount_corruptions;
  } else {
    TRY_ASSIGN(report, image->repair(mode));
  }
  TRY(image->close());
  for (const auto& line : report.messages) std::fprintf(stderr, "%s\n", line.c_str());
  return report;
}

}  // namespace

int check_verb(std::span<const std::string_view> args) {
  enum { kFormat, kOutput, kQuiet, kShare, kRepair, kHelp, kHelpLong };
  const ImgOption specs[] = {{'f', "", true},   {0, "output", true}, {'q', "", false},
                             {'U', "", false},  {'r', "", true},     {'h', "", false},
                             {0, "help", false}};
  auto parsed = parse_img_args(args, specs, "check", kImageArgs);
  if (!parsed) return fail(parsed.error().message());
  std::string format;
  bool json = false, quiet = false, repair = false;
  auto mode = block::Qcow2Image::RepairMode::kLeaks;
  for (const auto& [index, value] : parsed->options) {
    if (index == kFormat) {
      if (!take_format_option(value, format)) return kExitError;
    } else if (index == kOutput) {
      if (!take_output_option(value, json)) return kExitError;
    } else if (index == kQuiet) {
      quiet = true;
    } else if (index == kRepair) {
      if (value != "leaks" && value != "all") {
        return fail("Unknown option value for -r (expecting 'leaks' or 'all'): " + value);
      }
      repair = true;
      mode = value == "all" ? block::Qcow2Image::RepairMode::kAll
                            : block::Qcow2Image::RepairMode::kLeaks;
    } else if (index == kHelp || index == kHelpLong) {
      print_help();
      return 0;
    }
  }
  if (auto one = expect_one_image(*parsed, "check"); !one) return fail(one.error().message());
  int status = 0;
  auto image_args = take_image_args(*parsed, format, status);
  if (!image_args) return status;
  auto spec = image_args->spec(parsed->positional[0]);
  if (!spec) return fail(spec.error().message());
  if (repair && spec->read_only) {
    return fail("Could not open '" + spec->name + "': Block node is read-only");
  }
  const std::string& path = spec->path;
  block::ImageFormat fmt;
  if (!spec->format.empty()) {
    fmt = parse_format_option(spec->format).value();
  } else {
    // Probed, not opened: an image that only a check opens (no refcount
    // table) is checked too.
    auto probed = probe_format(path);
    if (!probed) return fail(probed.error().message());
    fmt = *probed;
  }
  if (fmt != block::ImageFormat::kQcow2) {
    fail("This image format does not support checks");
    return kExitNotSupported;
  }
  // What the check finds goes to stderr whatever -q and --output say (as
  // qemu-img's driver prints it); they only govern stdout.
  const bool silent = quiet || json;
  auto result = check_image(path, repair);
  if (!result) return fail(result.error().message());
  if (!repair || (result->corruptions == 0 && result->leaks == 0)) {
    print_summary(spec->name, *result, json, quiet, nullptr);
    return exit_status(*result);
  }
  if (mode == block::Qcow2Image::RepairMode::kLeaks && result->zero_refcounts != 0 &&
      !result->dirty) {
    // A cluster in use that the allocator would hand out again: only a
    // rebuild of the refcount structure (-r all) fixes that.
    (void)check_image(path, false, false);
    std::fprintf(stderr, "ERROR need to rebuild refcount structures\n");
    return fail("Check failed: " + path +
                ": the refcount structure needs to be rebuilt (use -r all)");
  }
  auto report = repair_image(path, mode, *result);
  if (!report) return fail("Check failed: " + report.error().message());
  if (report->leaks_fixed == 0 && report->corruptions_fixed == 0) {
    // Nothing could be fixed: the repair's messages said what is wrong; no
    // second check prints it again (as qemu-img).
    result = check_image(path, true);
    if (!result) return fail(result.error().message());
    print_summary(spec->name, *result, json, quiet, nullptr);
    return exit_status(*result);
  }
  if (!silent) {
    std::printf(
        "The following inconsistencies were found and repaired:\n\n"
        "    %llu leaked clusters\n"
        "    %llu corruptions\n\n"
        "Double checking the fixed image now...\n",
        static_cast<ull>(report->leaks_fixed), static_cast<ull>(report->corruptions_fixed));
  }
  result = check_image(path, false);
  if (!result) return fail(result.error().message());
  print_summary(spec->name, *result, json, quiet, &*report);
  return exit_status(*result);
}

}  // namespace vessel::cli::img
