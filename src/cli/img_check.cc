// vessel img check: an independent walk of a qcow2 image's metadata. Every
// cluster reachable from the header, the L1/L2 tables (active and of each
// snapshot), the refcount structures and the snapshot table is counted, and
// the counts are compared with the stored refcounts, as qemu-img check does.
#include <algorithm>
#include <cstdio>
#include <map>

#include "block/host_file.h"
#include "block/qcow2_header.h"
#include "block/qcow2_snapshot.h"
#include "cli/img_common.h"
#include "cli/img_verbs.h"

namespace vessel::cli::img {
namespace {

constexpr int kExitCorrupt = 2;
constexpr int kExitLeaks = 3;
constexpr int kExitNotSupported = 63;

void print_help() {
  std::printf(
      "Usage: vessel img check [-q] [-f fmt] [--output=human|json] [-U] filename\n"
      "\n"
      "Checks a qcow2 image for consistency: walks the L1 and L2 tables of the\n"
      "active image and of every internal snapshot, the refcount table and blocks\n"
      "and the snapshot table, and compares the references it counts with the\n"
      "stored refcounts and the L1/L2 'copied' flags. Repair (-r) is not offered:\n"
      "opening a dirty image read-write (e.g. with 'vessel run') repairs its\n"
      "refcounts. Persistent dirty bitmaps are not checked.\n"
      "\n"
      "Options:\n"
      "  -f fmt          qcow2 (probed when absent); raw cannot be checked\n"
      "  --output=FMT    human (default) or json\n"
      "  -q              quiet: only the exit status tells\n"
      "  -U              accepted for compatibility (images are never locked)\n"
      "  -h, --help      show this help\n"
      "\n"
      "Exit status:\n"
      "  0   no errors were found\n"
      "  1   the check could not be completed (unreadable or unparsable image)\n"
      "  2   the image is corrupted\n"
      "  3   clusters are leaked (wasted space, no harm to data)\n"
      "  63  the format (raw) does not support checks\n");
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
      TRY_ASSIGN(std::vector<uint64_t> l2, read_table(l2_offset, g.l2_entries()));
      for (uint64_t e : l2) {
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
        if (data == 0) continue;
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

uint64_t read_refcount_entry(std::span<const uint8_t> block, uint64_t index, uint32_t bits) {
  if (bits >= 8) {
    uint64_t bytes = bits / 8, v = 0;
    for (uint64_t k = 0; k < bytes; ++k) v = (v << 8) | block[index * bytes + k];
    return v;
  }
  uint64_t bit = index * bits;
  return (block[bit / 8] >> (bit % 8)) & ((1u << bits) - 1);
}

}  // namespace

int check_verb(std::span<const std::string_view> args) {
  enum { kFormat, kOutput, kQuiet, kShare, kHelp, kHelpLong };
  const ImgOption specs[] = {{'f', "", true},  {0, "output", true}, {'q', "", false},
                             {'U', "", false}, {'h', "", false},    {0, "help", false}};
  auto parsed = parse_img_args(args, specs, "check");
  if (!parsed) return fail(parsed.error().message());
  std::string format;
  bool json = false, quiet = false;
  for (const auto& [index, value] : parsed->options) {
    if (index == kFormat) {
      auto f = parse_format_option(value);
      if (!f) return fail(f.error().message());
      format = value;
    } else if (index == kOutput) {
      if (value != "json" && value != "human") {
        return fail("--output must be human or json (got '" + value + "')");
      }
      json = value == "json";
    } else if (index == kQuiet) {
      quiet = true;
    } else if (index == kHelp || index == kHelpLong) {
      print_help();
      return 0;
    }
  }
  if (parsed->positional.size() != 1) {
    return fail("expecting one image file name (see 'vessel img check --help')");
  }
  const std::string& path = parsed->positional[0];
  block::ImageFormat fmt;
  if (!format.empty()) {
    fmt = parse_format_option(format).value();
  } else {
    auto probed = open_image(path, "", false);
    if (!probed) return fail(probed.error().message());
    fmt = probed->format;
  }
  if (fmt != block::ImageFormat::kQcow2) {
    fail(path + ": this image format (raw) does not support checks");
    return kExitNotSupported;
  }
  auto file = block::HostFile::open(path, block::Access::kReadOnly);
  if (!file) return fail(file.error().message());
  auto header = block::parse_qcow2_header(**file);
  if (!header) return fail(header.error().message());
  const block::Qcow2Header& h = *header;
  const uint64_t cs = h.geometry().cluster_size();
  Checker c{**file,
            h,
            cs,
            block::qcow2::div_round_up((*file)->size(), cs),
            quiet || json,
            {},
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            {}};
  c.refs.assign(c.file_clusters, 0);

  auto walk = [&]() -> Result<void> {
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
    TRY_ASSIGN(auto snaps, block::read_qcow2_snapshots(**file, h));
    if (h.nb_snapshots != 0) c.ref(h.snapshots_offset, snaps.table_bytes, "snapshot table");
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
      uint64_t off =
          rt_index < rt.size() ? rt[rt_index] & block::qcow2::kRefcountTableOffsetMask : 0;
      if (off == 0 || off % cs != 0 || off / cs >= c.file_clusters) continue;
      if (loaded != rt_index) {
        TRY((*file)->read_padded(off, block));
        loaded = rt_index;
      }
      stored[i] = read_refcount_entry(block, i % per_block, bits);
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
    return Ok();
  };
  if (auto r = walk(); !r) return fail(r.error().message());

  uint64_t highest = 0;
  for (uint64_t i = 0; i < c.file_clusters; ++i) {
    if (c.refs[i] != 0) highest = i + 1;
  }
  const uint64_t end_offset = highest * cs;
  const uint64_t total = block::qcow2::div_round_up(h.size, cs);
  if (json) {
    std::printf(
        "{\n    \"image-end-offset\": %llu,\n    \"total-clusters\": %llu,\n"
        "    \"check-errors\": %llu,\n",
        static_cast<unsigned long long>(end_offset), static_cast<unsigned long long>(total),
        static_cast<unsigned long long>(c.check_errors));
    if (c.leaks) std::printf("    \"leaks\": %llu,\n", static_cast<unsigned long long>(c.leaks));
    if (c.corruptions) {
      std::printf("    \"corruptions\": %llu,\n", static_cast<unsigned long long>(c.corruptions));
    }
    if (c.allocated) {
      std::printf("    \"allocated-clusters\": %llu,\n",
                  static_cast<unsigned long long>(c.allocated));
    }
    std::printf("    \"filename\": %s,\n    \"format\": \"qcow2\"", json_string(path).c_str());
    if (c.fragmented) {
      std::printf(",\n    \"fragmented-clusters\": %llu",
                  static_cast<unsigned long long>(c.fragmented));
    }
    if (c.compressed) {
      std::printf(",\n    \"compressed-clusters\": %llu",
                  static_cast<unsigned long long>(c.compressed));
    }
    std::printf("\n}\n");
  } else if (!quiet) {
    if (c.corruptions == 0 && c.leaks == 0 && c.check_errors == 0) {
      std::printf("No errors were found on the image.\n");
    }
    if (c.corruptions) {
      std::printf(
          "\n%llu errors were found on the image.\n"
          "Data may be corrupted, or further writes to the image may corrupt it.\n",
          static_cast<unsigned long long>(c.corruptions));
    }
    if (c.leaks) {
      std::printf(
          "\n%llu leaked clusters were found on the image.\n"
          "This means waste of disk space, but no harm to data.\n",
          static_cast<unsigned long long>(c.leaks));
    }
    if (total != 0 && c.allocated != 0) {
      double a = static_cast<double>(c.allocated);
      std::printf(
          "%llu/%llu = %0.2f%% allocated, %0.2f%% fragmented, %0.2f%% compressed clusters\n",
          static_cast<unsigned long long>(c.allocated), static_cast<unsigned long long>(total),
          a * 100.0 / static_cast<double>(total), static_cast<double>(c.fragmented) * 100.0 / a,
          static_cast<double>(c.compressed) * 100.0 / a);
    }
    std::printf("Image end offset: %llu\n", static_cast<unsigned long long>(end_offset));
  }
  if (c.corruptions) return kExitCorrupt;
  if (c.leaks) return kExitLeaks;
  return 0;
}

}  // namespace vessel::cli::img
