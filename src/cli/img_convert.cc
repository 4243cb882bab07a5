// vessel img convert: copies an image into a new one of any format, leaving
// zero runs unwritten (sparse) and optionally compressing qcow2 clusters.
#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <vector>

#include "cli/img_common.h"
#include "cli/img_create_options.h"
#include "cli/img_parallel.h"
#include "cli/img_verbs.h"

namespace vessel::cli::img {
namespace {

void print_help() {
  std::printf(
      "Usage: vessel img convert [-q] [-p] [-c] [-n] [-f fmt] [-O output_fmt] [-t cache]\n"
      "                          [-B backing_file [-F backing_fmt]] [-S sparse_size]\n"
      "                          filename output_filename\n"
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
      "  -n               do not create the output: write into the existing image\n"
      "  -t cache         output cache mode: 'unsafe' (default, as in qemu-img) never\n"
      "                   calls fdatasync, so after a host crash the output may be\n"
      "                   damaged; 'writeback', 'writethrough', 'none' and\n"
      "                   'directsync' keep the crash-safe write order and make the\n"
      "                   output durable before exiting (through the page cache)\n"
      "  -p               show progress on stderr\n"
      "  -q               quiet\n"
      "  -h, --help       show this help\n"
      "\n"
      "Exit status: 0 on success, 1 on any error.\n");
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
    kHelp,
    kHelpLong
  };
  const ImgOption specs[] = {
      {'f', "", true}, {'O', "", true},  {'c', "", false}, {'S', "", true},  {'B', "", true},
      {'F', "", true}, {'n', "", false}, {'p', "", false}, {'q', "", false}, {'t', "", true},
      {'T', "", true}, {'o', "", true},  {'U', "", false}, {'h', "", false}, {0, "help", false}};
  auto parsed = parse_img_args(args, specs, "convert");
  if (!parsed) return fail(parsed.error().message());
  std::string src_format;
  block::ImageFormat out_format = block::ImageFormat::kRaw;
  bool compress = false, no_create = false, progress = false;
  uint64_t sparse = 4096;
  // qemu-img convert writes its output with cache=unsafe unless told
  // otherwise: no fdatasync at all, not even at the end. The output is a new
  // (or, with -n, overwritten) image that a host crash during the conversion
  // leaves incomplete whatever the syncs, and the conversion is simply
  // run again; an fdatasync at every metadata ordering point would only make it
  // slower. Any other cache mode keeps the crash-safe ordering and syncs.
  bool sync = false;
  std::string backing;
  std::string backing_format;
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
      case kCache: {
        auto durable = parse_cache_mode(value);
        if (!durable) return fail(durable.error().message());
        sync = *durable;
        break;
      }
      case kOptions:
        option_lists.push_back(value);
        break;
      case kHelp:
      case kHelpLong:
        print_help();
        return 0;
      default:
        break;  // -q, -T, -U: nothing to do
    }
  }
  // The new image's options; "size" is the source's whatever -o says, as
  // with qemu-img.
  auto create_options = parse_img_create_options(out_format, option_lists);
  if (!create_options) return fail(create_options.error().message());
  if (create_options->help) return 0;
  if (!option_lists.empty() && no_create) {
    return fail("-o has no effect when skipping image creation (-n)");
  }
  if (!create_options->backing_file.empty()) {
    if (!backing.empty()) return fail("-B and -o backing_file cannot both be given");
    backing = create_options->backing_file;
    if (backing_format.empty()) backing_format = create_options->backing_format;
  }
  const auto& pos = parsed->positional;
  if (pos.size() < 2)
    return fail("expecting a source and an output file name (see 'vessel img convert --help')");
  if (pos.size() > 2) return fail("unexpected argument '" + pos[2] + "' (one source image only)");
  const std::string& src_path = pos[0];
  const std::string& dst_path = pos[1];
  if (compress && out_format != block::ImageFormat::kQcow2) {
    return fail(dst_path + ": compression (-c) needs -O qcow2");
  }
  if (!backing.empty() && out_format != block::ImageFormat::kQcow2) {
    return fail(dst_path + ": a backing file (-B) needs -O qcow2");
  }
  if (!backing.empty() && no_create) return fail("-B cannot be used with -n");

  auto src = open_image(src_path, src_format, false);
  if (!src) return fail(src.error().message());
  const uint64_t size = src->backend->size();

  std::optional<OpenedImage> base;
  if (!backing.empty()) {
    std::string resolved = resolve_backing_path(dst_path, backing);
    auto b = open_image(resolved, backing_format, false);
    if (!b) return fail("could not open backing file: " + b.error().message());
    if (backing_format.empty()) backing_format = block::image_format_name(b->format);
    base = std::move(*b);
  }

  uint32_t cluster = 65536;
  if (!no_create) {
    if (out_format == block::ImageFormat::kQcow2) {
      if (size % 512 != 0) return fail(src_path + ": size is not a multiple of 512 bytes");
      if (auto checked = check_img_create_options(dst_path, *create_options); !checked) {
        return fail(checked.error().message());
      }
      block::Qcow2CreateOptions q = qcow2_create_options(*create_options);
      q.size = size;
      q.sync = sync;
      if (!backing.empty()) {
        q.backing_file = backing;
        q.backing_format = backing_format;
      }
      auto r = block::Qcow2Image::create(dst_path, q);
      if (!r) return fail(r.error().message());
    } else {
      auto r = create_raw_image(dst_path, size, *create_options);
      if (!r) return fail(r.error().message());
    }
  }
  auto dst = open_image(dst_path, std::string(block::image_format_name(out_format)), true, sync);
  if (!dst) return fail(dst.error().message());
  if (dst->qcow2 != nullptr) cluster = dst->qcow2->info().cluster_size;
  if (no_create && dst->backend->size() < size) {
    return fail(dst_path + ": output image is smaller than the source (" +
                std::to_string(dst->backend->size()) + " < " + std::to_string(size) + " bytes)");
  }

  // Work in whole output clusters so compression sees one cluster at a time.
  const uint64_t unit = sparse == 0 ? 4096 : std::min<uint64_t>(sparse, cluster);
  const uint64_t step = std::max<uint64_t>(cluster, uint64_t{1} << 20) / cluster * cluster;
  // Steps are copied by several threads (below); without -c their writes
  // still go out in order, so that the output's clusters follow the guest
  // order as they do with qemu-img (without -W).
  std::mutex turn_mu;
  std::condition_variable turn_cv;
  uint64_t turn = 0;  // the step whose writes may go out now
  bool stopped = false;
  auto wait_turn = [&](uint64_t i) -> bool {
    std::unique_lock<std::mutex> lock(turn_mu);
    turn_cv.wait(lock, [&] { return turn == i || stopped; });
    return !stopped;
  };
  auto end_turn = [&](bool ok) {
    {
      std::lock_guard<std::mutex> lock(turn_mu);
      if (ok) {
        ++turn;
      } else {
        stopped = true;
      }
    }
    turn_cv.notify_all();
  };
  // Copies step `i` through `buf` (and `base_buf` for -B).
  auto copy_step = [&](uint64_t i, std::vector<uint8_t>& buf,
                       std::vector<uint8_t>& base_buf) -> Result<void> {
    const uint64_t offset = i * step;
    const uint64_t len = std::min(step, size - offset);
    std::span<uint8_t> data(buf.data(), len);
    // A hole in the source needs no reading; with nothing to compare it to
    // and zeros left unwritten it needs nothing at all.
    TRY_ASSIGN(bool hole, src->backend->known_zero(offset, len));
    if (hole && !base && sparse != 0 && !no_create) {
      if (!compress) (void)wait_turn(i);  // keeps the turns in step order
      return Ok();
    }
    if (hole) {
      std::fill(data.begin(), data.end(), 0);
    } else {
      TRY(src->backend->read(offset, data));
    }
    std::span<uint8_t> base_data;
    if (base) {
      base_data = std::span<uint8_t>(base_buf.data(), len);
      std::fill(base_data.begin(), base_data.end(), 0);
      uint64_t base_size = base->backend->size();
      if (offset < base_size) {
        TRY(base->backend->read(offset, base_data.subspan(0, std::min(len, base_size - offset))));
      }
    }
    if (compress) {
      for (uint64_t c = 0; c < len; c += cluster) {
        std::span<const uint8_t> piece = data.subspan(c, std::min<uint64_t>(cluster, len - c));
        if (base ? std::equal(piece.begin(), piece.end(), base_data.begin() + c)
                 : (sparse != 0 && is_zero(piece))) {
          continue;
        }
        TRY(dst->qcow2->write_compressed(offset + c, piece));
      }
      return Ok();
    }
    if (!wait_turn(i)) return Ok();  // an earlier step failed and reports it
    // Write maximal runs of units that must be written.
    uint64_t run_start = 0;
    bool in_run = false;
    for (uint64_t u = 0; u <= len; u += unit) {
      bool write_it = false;
      if (u < len) {
        std::span<const uint8_t> piece = data.subspan(u, std::min(unit, len - u));
        if (base) {
          write_it = !std::equal(piece.begin(), piece.end(), base_data.begin() + u);
        } else {
          write_it = sparse == 0 || no_create || !is_zero(piece);
        }
      }
      if (write_it && !in_run) {
        run_start = u;
        in_run = true;
      } else if (!write_it && in_run) {
        TRY(dst->backend->write(offset + run_start, data.subspan(run_start, u - run_start)));
        in_run = false;
      }
    }
    return Ok();
  };

  // As many threads as qemu-img's default number of parallel requests
  // (-m 8) for -c: compression is the costly part, and write_compressed()
  // compresses outside the image's lock. Without -c, reading the next steps
  // overlaps writing this one.
  const uint64_t steps = (size + step - 1) / step;
  const size_t workers = static_cast<size_t>(std::min<uint64_t>(steps, compress ? 8 : 4));
  std::vector<std::vector<uint8_t>> bufs(workers, std::vector<uint8_t>(step));
  std::vector<std::vector<uint8_t>> base_bufs(workers, std::vector<uint8_t>(base ? step : 0));
  Progress bar(progress);
  bar.update(0, size);
  std::mutex progress_mu;
  uint64_t copied = 0;
  auto copied_all =
      for_each_parallel(steps, workers, [&](uint64_t i, size_t worker) -> Result<void> {
        uint64_t offset = i * step;
        Result<void> copied_step = copy_step(i, bufs[worker], base_bufs[worker]);
        if (!compress) end_turn(copied_step.ok());
        TRY(copied_step);
        std::lock_guard<std::mutex> lock(progress_mu);
        copied += std::min(step, size - offset);
        bar.update(copied, size);
        return Ok();
      });
  if (!copied_all) return fail(copied_all.error().message());
  if (dst->qcow2 != nullptr) {
    if (auto r = dst->qcow2->close(); !r) return fail(r.error().message());
  } else if (auto r = dst->backend->flush(); !r) {
    return fail(r.error().message());
  }
  bar.finish();
  return 0;
}

}  // namespace vessel::cli::img
