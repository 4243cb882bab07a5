// vessel img measure: the file size a new image would need, for a given
// virtual size or to hold an existing image, computed as qemu-img 7.2 does
// (block/qcow2.c qcow2_measure, block/raw-format.c raw_measure) so the
// numbers are identical.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <tuple>

#include "cli/img_common.h"
#include "cli/img_image_spec.h"
#include "cli/img_verbs.h"
#include "storage/chain.h"
#include "storage/create_options.h"

namespace vessel::cli::img {
namespace {

using block::qcow2::div_round_up;
using block::qcow2::round_up;

void print_help() {
  std::printf(
      "Usage: vessel img measure [--output=human|json] [-O fmt] [-o options]\n"
      "                          [--size N | [-f fmt] filename]\n"
      "\n"
      "Prints the file size an image of format 'fmt' needs: for a new disk of\n"
      "N bytes, or to hold the contents of 'filename' (e.g. before a convert).\n"
      "'required size' is what the image needs as it is; 'fully allocated size'\n"
      "what it needs once every cluster is written.\n"
      "\n"
      "Options:\n"
      "  -O fmt           output format: raw (default) or qcow2\n"
      "  -o options       output options, as for create (qcow2: cluster_size,\n"
      "                   compat, refcount_bits, preallocation, backing_file, ...)\n"
      "  -f fmt           format of 'filename' (probed when absent)\n"
      "  --size N         measure a new, empty disk of N bytes\n"
      "  --output=FORMAT  human (default) or json\n"
      "  -h, --help       show this help\n"
      "\n"
      "Exit status: 0 on success, 1 on any error.\n");
  print_image_args_help(kImageArgs);
}

// qcow2_refcount_metadata_size(): the refcount table and blocks that count
// `clusters` clusters and themselves (the fixed point).
uint64_t refcount_metadata_size(uint64_t clusters, uint64_t cluster_size, uint32_t refcount_bits) {
  const uint64_t blocks_per_table_cluster = cluster_size / 8;
  const uint64_t refcounts_per_block = cluster_size * 8 / refcount_bits;
  uint64_t table = 0, blocks = 0, n = 0, last;
  do {
    last = n;
    blocks = div_round_up(clusters + table + blocks, refcounts_per_block);
    table = div_round_up(blocks, blocks_per_table_cluster);
    n = clusters + blocks + table;
  } while (n != last);
  return (blocks + table) * cluster_size;
}

// qcow2_calc_prealloc_size(): header, L2 tables, L1 table, refcounts and data
// of a fully allocated image. `l2_entry_bytes`: 8, or 16 with extended L2
// entries (qcow2 spec "Extended L2 Entries").
uint64_t qcow2_fully_allocated(uint64_t virtual_size, uint64_t cluster_size, uint32_t refcount_bits,
                               uint64_t l2_entry_bytes) {
  const uint64_t aligned = round_up(virtual_size, cluster_size);
  uint64_t meta = cluster_size;
  uint64_t l2_entries = round_up(aligned / cluster_size, cluster_size / l2_entry_bytes);
  meta += l2_entries * l2_entry_bytes;
  uint64_t l1_entries = round_up(l2_entries * l2_entry_bytes / cluster_size, cluster_size / 8);
  meta += l1_entries * 8;
  meta += refcount_metadata_size((meta + aligned) / cluster_size, cluster_size, refcount_bits);
  return meta + aligned;
}

struct Qcow2Target {
  uint64_t cluster_size = 65536;
  uint32_t refcount_bits = 16;
  bool version3 = true;
  bool fully_preallocated = false;  // preallocation=falloc or full
  bool has_backing_file = false;
  bool extended_l2 = false;
  uint64_t l2_entry_bytes() const { return extended_l2 ? 16 : 8; }
};

Result<Qcow2Target> parse_qcow2_target(
    const std::vector<std::pair<std::string, std::string>>& items) {
  Qcow2Target t;
  bool refcount_given = false;
  for (const auto& [key, value] : items) {
    if (key == "cluster_size") {
      TRY_ASSIGN(uint64_t s, parse_img_size(value));
      if (s < 512 || s > (2u << 20) || (s & (s - 1)) != 0) {
        return Error("Cluster size must be a power of two between 512 and 2048k");
      }
      t.cluster_size = s;
    } else if (key == "compat") {
      auto v = block::parse_qcow2_compat(value);
      if (!v) return Error("Invalid compatibility level: '" + value + "'");
      t.version3 = *v == block::Qcow2Version::kV3;
    } else if (key == "refcount_bits") {
      TRY_ASSIGN(t.refcount_bits, block::parse_qcow2_refcount_bits(value));
      refcount_given = true;
    } else if (key == "preallocation") {
      if (value == "falloc" || value == "full") {
        t.fully_preallocated = true;
      } else if (value != "off" && value != "metadata") {
        return Error("Invalid parameter '" + value + "'");
      }
    } else if (key == "backing_file") {
      t.has_backing_file = true;
    } else if (key == "lazy_refcounts") {
      TRY(parse_img_bool(key, value));
    } else if (key == "compression_type") {
      if (value != "zlib" && value != "zstd") return Error("Invalid parameter '" + value + "'");
    } else if (key == "extended_l2") {
      TRY_ASSIGN(t.extended_l2, parse_img_bool(key, value));
    } else if (key == "extent_size_hint") {
      if (!parse_img_size(value)) return Error(storage::extent_size_hint_error());
    } else if (key == "data_file_raw") {
      // An external data file changes nothing qemu-img measure counts.
      TRY(parse_img_bool(key, value));
    } else if (key != "backing_fmt" && key != "size" && key != "data_file") {
      return Error("Invalid parameter '" + key + "'");
    }
  }
  // (qemu-img measure does not refuse extended L2 entries with compat=0.10.)
  if (t.extended_l2 && t.cluster_size < (1u << block::qcow2::kMinExtendedL2ClusterBits)) {
    return Error(
        "Extended L2 entries are only supported with cluster sizes of at least 16384 bytes");
  }
  if (!t.version3 && refcount_given && t.refcount_bits != 16) {
    return Error(
        "Different refcount widths than 16 bits require compatibility level 1.1 or above "
        "(use compat=1.1 or greater)");
  }
  return t;
}

// The host files of the chain's layers, for SEEK_DATA.
struct HostFds {
  std::vector<int> fds;
  ~HostFds() {
    for (int fd : fds) {
      if (fd >= 0) ::close(fd);
    }
  }
};

// How much of a qcow2 data extent is data in the host file: qemu reports
// the parts that are holes there (left by its copy-on-write of zeros) as
// zeros. Returns the length of the leading data (true) or hole (false) part.
std::pair<bool, uint64_t> host_data_run(int fd, uint64_t offset, uint64_t length) {
  off_t data = lseek(fd, static_cast<off_t>(offset), SEEK_DATA);
  if (data < 0) return {false, length};
  if (static_cast<uint64_t>(data) > offset) {
    return {false, std::min<uint64_t>(length, static_cast<uint64_t>(data) - offset)};
  }
  off_t hole = lseek(fd, static_cast<off_t>(offset), SEEK_HOLE);
  if (hole < 0) return {true, length};
  return {true, std::min<uint64_t>(length, static_cast<uint64_t>(hole) - offset)};
}

// Bytes of the input that a qcow2 copy must hold: every target cluster
// holding data, as qcow2_measure() counts it from block status (zero and
// unallocated extents cost nothing).
Result<uint64_t> data_bytes(const storage::Chain& chain, uint64_t cluster_size) {
  HostFds host;
  for (const auto& layer : chain) {
    host.fds.push_back(layer->qcow2 != nullptr
                           ? ::open(layer->qcow2->data_path().c_str(), O_RDONLY | O_CLOEXEC)
                           : -1);
  }
  const uint64_t size = chain[0]->backend->size();
  uint64_t required = 0;
  for (uint64_t pos = 0; pos < size;) {
    TRY_ASSIGN(storage::Extent e, storage::extent_at(chain, 0, pos, size - pos));
    uint64_t length = e.length;
    bool data = e.data && !e.zero;
    if (data && e.has_offset && host.fds[e.depth] >= 0) {
      std::tie(data, length) = host_data_run(host.fds[e.depth], e.offset, length);
    }
    if (data) {
      // qemu extends the extent to the end of its cluster and adds the part
      // of the cluster before it.
      length = round_up(pos + length, cluster_size) - pos;
      required += pos % cluster_size + length;
    }
    pos += length;
  }
  return required;
}

}  // namespace

int measure_verb(std::span<const std::string_view> args) {
  enum { kFormat, kOutFormat, kOptions, kSize, kOutput, kShare, kShareLong, kHelp, kHelpLong };
  const ImgOption specs[] = {
      {'f', "", true},           {'O', "", true},     {'o', "", true, Repeat::kAddsUp},
      {0, "size", true},         {0, "output", true}, {'U', "", false},
      {0, "force-share", false}, {'h', "", false},    {0, "help", false}};
  auto parsed = parse_img_args(args, specs, "measure", kImageArgs);
  if (!parsed) return fail(parsed.error().message());
  std::string format, out_format = "raw";
  std::vector<std::string> option_lists;
  bool json = false, size_given = false;
  uint64_t size = 0;
  for (const auto& [index, value] : parsed->options) {
    if (index == kFormat) {
      if (!take_format_option(value, format)) return kExitError;
    } else if (index == kOutFormat) {
      if (!take_format_option(value, out_format)) return kExitError;
    } else if (index == kOptions) {
      option_lists.push_back(value);
    } else if (index == kSize) {
      auto s = parse_img_size(value);
      if (!s) return fail("Invalid image size specified. " + s.error().message());
      size = *s;
      size_given = true;
    } else if (index == kOutput) {
      if (!take_output_option(value, json)) return kExitError;
    } else if (index == kHelp || index == kHelpLong) {
      print_help();
      return 0;
    }
  }
  const auto& pos = parsed->positional;
  if (pos.size() > 1) return fail("unexpected argument '" + pos[1] + "'");
  if (!size_given && pos.empty()) return fail("Either --size N or one filename must be specified.");
  if (size_given && !pos.empty()) return fail("--size N cannot be used together with a filename.");
  const bool qcow2_out = out_format == "qcow2";
  auto items = split_img_options(option_lists);

  int status = 0;
  auto image_args = take_image_args(*parsed, format, status);
  if (!image_args) return status;
  storage::Chain chain;
  if (!pos.empty()) {
    auto spec = image_args->spec(pos[0]);
    if (!spec) return fail(spec.error().message());
    auto opened = storage::open_chain(*spec);
    if (!opened) return fail(opened.error().message());
    chain = std::move(opened).value();
  }
  uint64_t required = 0, fully = 0;
  bool has_bitmaps = false;
  if (!qcow2_out) {
    for (const auto& [key, value] : items) {
      if (key == "preallocation") {
        if (value != "off" && value != "falloc" && value != "full") {
          return fail("Invalid parameter '" + value + "'");
        }
      } else if (key == "extent_size_hint") {
        // Of the file, not of the image's size.
        if (!parse_img_size(value)) return fail(storage::extent_size_hint_error());
      } else if (key != "size") {
        return fail("Invalid parameter '" + key + "' (invalid options for file format 'raw')");
      }
    }
    // Unallocated sectors count towards the file size of a raw image.
    required = chain.empty() ? round_up(size, 512) : chain[0]->backend->size();
    fully = required;
  } else {
    auto target = parse_qcow2_target(items);
    if (!target) return fail(target.error().message());
    const uint64_t cs = target->cluster_size;
    uint64_t virtual_size = round_up(size, cs);
    uint64_t data = 0;
    if (!chain.empty()) {
      virtual_size = round_up(chain[0]->backend->size(), cs);
      if (target->has_backing_file) {
        // The new backing file may share nothing with the input: count it all.
        data = virtual_size;
      } else {
        auto counted = data_bytes(chain, cs);
        if (!counted) return fail(counted.error().message());
        data = *counted;
      }
    }
    if (div_round_up(virtual_size / cs, cs / target->l2_entry_bytes()) * 8 >
        block::qcow2::kMaxL1Bytes) {
      return fail("The image size is too large (try using a larger cluster size)");
    }
    if (target->fully_preallocated) data = virtual_size;
    fully =
        qcow2_fully_allocated(virtual_size, cs, target->refcount_bits, target->l2_entry_bytes());
    required = fully - virtual_size + data;
    // Persistent bitmaps: only a qcow2 input could carry them (none here).
    has_bitmaps = target->version3 && !chain.empty() && chain[0]->qcow2 != nullptr;
  }

  auto u = [](uint64_t v) { return static_cast<unsigned long long>(v); };
  if (json) {
    std::printf("{\n");
    if (has_bitmaps) std::printf("    \"bitmaps\": 0,\n");
    std::printf("    \"required\": %llu,\n    \"fully-allocated\": %llu\n}\n", u(required),
                u(fully));
  } else {
    std::printf("required size: %llu\nfully allocated size: %llu\n", u(required), u(fully));
    if (has_bitmaps) std::printf("bitmaps size: 0\n");
  }
  return 0;
}

}  // namespace vessel::cli::img
