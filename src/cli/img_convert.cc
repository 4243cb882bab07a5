// vessel img convert: copies an image into a new one of any format, leaving
// zero runs unwritten (sparse) and optionally compressing qcow2 clusters;
// --bitmaps copies the persistent dirty bitmaps along.
#include <algorithm>
#include <cstdio>

#include "cli/img_common.h"
#include "cli/img_convert_bitmaps.h"
#include "cli/img_image_spec.h"
#include "cli/img_verbs.h"
#include "storage/convert.h"
#include "storage/create_options.h"

namespace vessel::cli::img {
namespace {

void print_help() {
  std::printf(
      "Usage: vessel img convert [-q] [-p] [-c] [-n [--target-image-opts]] [-U] [-f fmt]\n"
      "                          [-O output_fmt]\n"
      "                          [-t cache] [-T src_cache] [-B backing_file [-F backing_fmt]]\n"
      "                          [-S sparse_size] [-l snapshot_param]\n"
      "                          [--bitmaps [--skip-broken-bitmaps]] filename output_filename\n"
      "\n"
      "Copies the disk contents of 'filename' (with its backing chain) into a new\n"
      "image 'output_filename'.\n"
      "\n"
      "Options:\n"
      "  -f fmt           source format: raw or qcow2 (probed when absent)\n"
      "  -O output_fmt    output format: raw (default) or qcow2\n"
      "  -o options       options of the new image, as for 'vessel img create -o'\n"
      "                   (qcow2: cluster_size, compat, refcount_bits, extended_l2,\n"
      "                   lazy_refcounts, compression_type, preallocation; '-o help')\n"
      "  -c               compress the output's clusters (qcow2 output only)\n"
      "  -S sparse_size   runs of zeros at least this long (a multiple of 512) are\n"
      "                   not written; 0 writes every byte (default 4k)\n"
      "  -B backing_file  qcow2 output only: the new image gets this backing file and\n"
      "                   stores only what differs from it\n"
      "  -F backing_fmt   format of the -B file (probed when absent)\n"
      "  -n               do not create the output: write into the existing image;\n"
      "                   where the source reads as zeros the output is zeroed (qcow2\n"
      "                   zero clusters, holes in a raw file)\n"
      "  --target-image-opts\n"
      "                   with -n (and without -O): output_filename is an option list\n"
      "                   as --image-opts takes ('driver=qcow2,file.filename=out.qcow2')\n"
      "  -t cache         output cache mode, as in qemu-img:\n"
      "                     unsafe (default)  page cache, never fdatasync: after a host\n"
      "                                       crash the output may be damaged\n"
      "                     writeback         page cache; crash-safe write order,\n"
      "                                       fdatasync at its ordering points and at\n"
      "                                       the end\n"
      "                     writethrough      as writeback, and every write is durable\n"
      "                                       when it returns (O_DSYNC)\n"
      "                     none (or off)     bypasses the host page cache (O_DIRECT);\n"
      "                                       fdatasync as writeback\n"
      "                     directsync        O_DIRECT, and every write durable (O_DSYNC)\n"
      "                   none and directsync fail where the file system does not\n"
      "                   support O_DIRECT\n"
      "  -T src_cache     source cache mode, the same names (default writeback); none\n"
      "                   and directsync read the source with O_DIRECT\n"
      "  -U, --force-share\n"
      "                   accepted for compatibility: vessel img takes no image locks,\n"
      "                   so every image is always opened shared, with or without -U;\n"
      "                   nothing stops another program writing it meanwhile\n"
      "  -l snapshot_param  copy an internal snapshot of a qcow2 source instead of\n"
      "                   its current disk: 'snapshot.id=ID,snapshot.name=NAME' (either\n"
      "                   or both must match), or a bare ID or name\n"
      "  --bitmaps        also copy the persistent dirty bitmaps of a qcow2 source into\n"
      "                   the (qcow2, compat=1.1) output, after the data\n"
      "  --skip-broken-bitmaps\n"
      "                   with --bitmaps: leave out inconsistent bitmaps (in use, left\n"
      "                   by a crash) with a warning instead of failing\n"
      "  -p               show progress on stderr\n"
      "  -q               quiet\n"
      "  -h, --help       show this help\n"
      "\n"
      "Exit status: 0 on success, 1 on any error.\n");
  print_image_args_help(kImageArgs);
}

// -l: "snapshot.id=ID,snapshot.name=NAME" (either or both), or a bare ID or
// name, which is looked up as qemu-img does: by ID first, then by name.
Result<SnapshotRef> snapshot_ref(const ImageSpec& source, const std::string& param) {
  const std::string& path = source.path;
  SnapshotRef ref;
  if (param.empty()) return ref;
  if (param.rfind("snapshot.", 0) != 0) {
    TRY_ASSIGN(OpenedImage image, open_image(source, false));
    // A raw source has no snapshots: the open with this ref says so.
    if (image.qcow2 == nullptr) return SnapshotRef{param, ""};
    auto index = image.qcow2->find_snapshot(param);
    if (!index) return Error(path + ": Failed to load snapshot: Can't find snapshot");
    ref.id = image.qcow2->snapshots()[*index].id;
    return ref;
  }
  for (const std::string& item : img_option_items(std::span(&param, 1))) {
    size_t eq = item.find('=');
    std::string key = item.substr(0, eq);
    std::string value = eq == std::string::npos ? std::string() : item.substr(eq + 1);
    if (key == "snapshot.id") {
      ref.id = value;
    } else if (key == "snapshot.name") {
      ref.name = value;
    } else {
      return Error("Invalid parameter '" + key + "'");
    }
  }
  return ref;
}

}  // namespace

int convert_verb(std::span<const std::string_view> args) {
  enum {
    kFormat,
    kOutFormat,
    kCompress,
    kSparse,
    kBacking,
    kBackingFormat,
    kNoCreate,
    kProgress,
    kQuiet,
    kCache,
    kSrcCache,
    kOptions,
    kShare,
    kSnapshot,
    kTargetImageOpts,
    kBitmaps,
    kSkipBrokenBitmaps,
    kHelp,
    kHelpLong
  };
  const ImgOption specs[] = {{'f', "", true},
                             {'O', "", true},
                             {'c', "", false},
                             {'S', "", true},
                             {'B', "", true},
                             {'F', "", true},
                             {'n', "", false},
                             {'p', "", false},
                             {'q', "", false},
                             {'t', "", true},
                             {'T', "", true},
                             {'o', "", true, Repeat::kAddsUp},
                             {'U', "force-share", false},
                             {'l', "", true},
                             {0, "target-image-opts", false},
                             {0, "bitmaps", false},
                             {0, "skip-broken-bitmaps", false},
                             {'h', "", false},
                             {0, "help", false}};
  auto parsed = parse_img_args(args, specs, "convert", kImageArgs);
  if (!parsed) return fail(parsed.error().message());
  std::string src_format;
  block::ImageFormat out_format = block::ImageFormat::kRaw;
  bool compress = false, no_create = false, progress = false;
  bool out_format_given = false, target_image_opts = false;
  bool bitmaps = false, skip_broken_bitmaps = false;
  uint64_t sparse = 4096;
  // qemu-img convert writes its output with cache=unsafe unless told
  // otherwise: no fdatasync at all, not even at the end. The output is a new
  // (or, with -n, overwritten) image that a host crash during the conversion
  // leaves incomplete whatever the syncs, and the conversion is simply
  // run again; an fdatasync at every metadata ordering point would only make it
  // slower. Any other cache mode keeps the crash-safe ordering and syncs.
  // The source is read with qemu-img's default, writeback (the page cache).
  CacheMode dst_cache{.host_cache = block::HostCache::kWriteback, .flush = false};
  CacheMode src_cache;
  std::string backing;
  std::string backing_format;
  std::string snapshot_param;  // -l
  std::vector<std::string> option_lists;
  for (const auto& [index, value] : parsed->options) {
    switch (index) {
      case kFormat: {
        if (!take_format_option(value, src_format)) return kExitError;
        break;
      }
      case kOutFormat: {
        auto f = parse_format_option(value);
        if (!f) return fail(f.error().message());
        out_format = *f;
        out_format_given = true;
        break;
      }
      case kCompress:
        compress = true;
        break;
      case kSparse: {
        auto s = parse_img_size(value);
        if (!s) return fail("-S: " + s.error().message());
        if (*s % 512 != 0)
          return fail("-S: sparse size must be a multiple of 512 (got " + value + ")");
        sparse = *s;
        break;
      }
      case kBacking:
        backing = value;
        break;
      case kBackingFormat: {
        if (!take_format_option(value, backing_format)) return kExitError;
        break;
      }
      case kNoCreate:
        no_create = true;
        break;
      case kProgress:
        progress = true;
        break;
      case kCache:
      case kSrcCache: {
        auto mode = parse_cache_mode(value);
        if (!mode) return fail((index == kCache ? "-t: " : "-T: ") + mode.error().message());
        (index == kCache ? dst_cache : src_cache) = *mode;
        break;
      }
      case kOptions:
        option_lists.push_back(value);
        break;
      case kSnapshot:
        snapshot_param = value;
        break;
      case kTargetImageOpts:
        target_image_opts = true;
        break;
      case kBitmaps:
        bitmaps = true;
        break;
      case kSkipBrokenBitmaps:
        skip_broken_bitmaps = true;
        break;
      case kHelp:
      case kHelpLong:
        print_help();
        return 0;
      default:
        break;  // -q; -U: images are never locked, so they are always shared
    }
  }
  if (skip_broken_bitmaps && !bitmaps)
    return fail("Use of --skip-broken-bitmaps requires --bitmaps");
  // The new image's options; "size" is the source's whatever -o says, as
  // with qemu-img.
  auto create_options = storage::parse_img_create_options(out_format, option_lists);
  if (!create_options) return fail(create_options.error().message());
  if (create_options->help) {
    std::fputs(storage::create_options_help(out_format).c_str(), stdout);
    return 0;
  }
  if (!option_lists.empty() && no_create) {
    return fail("-o has no effect when skipping image creation (-n)");
  }
  if (!create_options->backing_file.empty()) {
    if (!backing.empty()) return fail("-B and -o backing_file cannot both be given");
    backing = create_options->backing_file;
    if (backing_format.empty()) backing_format = create_options->backing_format;
  }
  // (qemu-img could not create an image from an option list.)
  if (target_image_opts && !no_create) return fail("--target-image-opts requires use of -n flag");
  const auto& pos = parsed->positional;
  if (pos.size() < 2)
    return fail("expecting a source and an output file name (see 'vessel img convert --help')");
  if (pos.size() > 2) return fail("unexpected argument '" + pos[2] + "' (one source image only)");
  int status = 0;
  auto image_args = take_image_args(*parsed, src_format, status);
  if (!image_args) return status;
  auto src_spec = image_args->spec(pos[0]);
  if (!src_spec) return fail(src_spec.error().message());
  const std::string& src_path = src_spec->path;
  // The output: a file name, or with --target-image-opts an option list
  // whose format, unless it names one, is probed (so -c and -B, which need
  // qcow2, are checked once it is open).
  ImageSpec dst_spec{
      .name = pos[1], .path = pos[1], .format = std::string(block::image_format_name(out_format))};
  if (target_image_opts) {
    auto spec = image_args->spec(pos[1], out_format_given ? dst_spec.format : std::string(),
                                 ImageNameSyntax::kImageOpts);
    if (!spec) return fail(spec.error().message());
    dst_spec = std::move(*spec);
  }
  const std::string& dst_path = dst_spec.path;
  if (compress && !target_image_opts && out_format != block::ImageFormat::kQcow2) {
    return fail(dst_path + ": compression (-c) needs -O qcow2");
  }
  if (!backing.empty() && out_format != block::ImageFormat::kQcow2) {
    return fail(dst_path + ": a backing file (-B) needs -O qcow2");
  }
  if (!backing.empty() && no_create) return fail("-B cannot be used with -n");

  auto snapshot = snapshot_ref(*src_spec, snapshot_param);
  if (!snapshot) return fail(snapshot.error().message());
  auto src = open_image(*src_spec, false, src_cache, *snapshot);
  if (!src) return fail(src.error().message());
  const uint64_t size = src->backend->size();
  if (bitmaps) {
    if (auto checked = check_convert_bitmaps(*src, skip_broken_bitmaps); !checked) {
      return fail(checked.error().message());
    }
  }

  std::optional<OpenedImage> base;
  if (!backing.empty()) {
    std::string resolved = resolve_backing_path(dst_path, backing);
    // Read as the target's backing file, which in qemu inherits the
    // target's cache mode.
    auto b = open_image(resolved, backing_format, false, dst_cache);
    if (!b) return fail("could not open backing file: " + b.error().message());
    if (backing_format.empty()) backing_format = block::image_format_name(b->format);
    base = std::move(*b);
  }

  uint32_t cluster = 65536;
  if (!no_create) {
    if (out_format == block::ImageFormat::kQcow2) {
      if (size % 512 != 0) return fail(src_path + ": size is not a multiple of 512 bytes");
      if (auto checked = storage::check_img_create_options(dst_path, *create_options); !checked) {
        return fail(checked.error().message());
      }
      block::Qcow2CreateOptions q = storage::qcow2_create_options(*create_options, warn);
      q.size = size;
      q.sync = dst_cache.flush;
      if (!backing.empty()) {
        q.backing_file = backing;
        q.backing_format = backing_format;
      }
      auto r = block::Qcow2Image::create(dst_path, q);
      if (!r) return fail(r.error().message());
    } else {
      auto r = storage::create_raw_image(dst_path, size, *create_options, warn);
      if (!r) return fail(r.error().message());
    }
  }
  auto dst = open_image(dst_spec, true, dst_cache);
  if (!dst) return fail(dst.error().message());
  if (bitmaps) {
    if (auto checked = check_convert_bitmap_target(*dst); !checked) {
      return fail(checked.error().message());
    }
  }
  if (compress && dst->qcow2 == nullptr) return fail(dst_path + ": compression (-c) needs qcow2");
  if (dst->qcow2 != nullptr) cluster = dst->qcow2->info().cluster_size;
  if (no_create && dst->backend->size() < size) {
    return fail(dst_path + ": output image is smaller than the source (" +
                std::to_string(dst->backend->size()) + " < " + std::to_string(size) + " bytes)");
  }

  storage::ConvertCopy copy{
      .source = *src->backend,
      .target = *dst,
      .base = base ? base->backend.get() : nullptr,
      .size = size,
      .cluster = cluster,
      .sparse = sparse,
      .compress = compress ? storage::Compression::kCompressed : storage::Compression::kNone,
      .target_state = no_create ? storage::TargetState::kExisting : storage::TargetState::kFresh};
  Progress bar(progress);
  auto copied_all =
      storage::convert_copy(copy, [&](uint64_t done, uint64_t total) { bar.update(done, total); });
  if (!copied_all) return fail(copied_all.error().message());
  if (bitmaps) {
    auto copied_bitmaps = copy_convert_bitmaps(*src->qcow2, src_spec->name, *dst->qcow2,
                                               dst_spec.name, skip_broken_bitmaps);
    if (!copied_bitmaps) return fail(copied_bitmaps.error().message());
  }
  if (dst->qcow2 != nullptr) {
    if (auto r = dst->qcow2->close(); !r) return fail(r.error().message());
  } else if (auto r = dst->backend->flush(); !r) {
    return fail(r.error().message());
  }
  bar.finish();
  return 0;
}

}  // namespace vessel::cli::img
