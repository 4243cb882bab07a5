// vessel img rebase: gives a qcow2 image a new backing file (or none).
// Safe mode keeps what the guest sees: every cluster the image does not hold
// itself, and whose content differs between the old and the new backing
// file, gets the old content written into the image first; then the header
// names the new file. Unsafe mode (-u) only rewrites the header, without
// opening either backing file.
#include <sys/stat.h>

#include <cstdio>

#include "cli/img_common.h"
#include "cli/img_image_spec.h"
#include "cli/img_verbs.h"

namespace vessel::cli::img {
namespace {

void print_help() {
  std::printf(
      "Usage: vessel img rebase [-q] [-f fmt] [-u] [-b backing_file] [-F backing_fmt] [-p]\n"
      "                         filename\n"
      "\n"
      "Changes the backing file of a qcow2 image. Without -u the guest-visible\n"
      "contents stay the same: data that only the old backing file provided and\n"
      "that differs in the new one is copied into the image first.\n"
      "\n"
      "Options:\n"
      "  -b backing_file  the new backing file; \"\" for none (the image becomes\n"
      "                   independent); a relative name is relative to the image\n"
      "  -F backing_fmt   format of the new backing file (raw or qcow2; required)\n"
      "  -f fmt           format of 'filename' (qcow2; probed when absent)\n"
      "  -u               unsafe: only change the name in the header\n"
      "  -p               show progress\n"
      "  -q               quiet\n"
      "  -h, --help       show this help\n"
      "\n"
      "Exit status: 0 on success, 1 on any error.\n");
  print_image_args_help(kImageArgs);
}

// Copies into `image` each cluster it does not hold whose content (through
// its current backing chain) differs from what `next` (null: zeros) has.
Result<void> copy_differences(block::Qcow2Image& image, block::BlockBackend* next, Progress& bar) {
  const uint64_t size = image.size();
  const uint64_t cs = image.info().cluster_size;
  const uint64_t next_size = next != nullptr ? next->size() : 0;
  std::vector<uint8_t> old_data(cs), new_data(cs);
  for (uint64_t pos = 0; pos < size; pos += cs) {
    bar.update(pos, size);
    TRY_ASSIGN(auto where, image.cluster_allocation(pos));
    if (where.allocation != block::Qcow2Image::Allocation::kUnallocated) continue;
    const uint64_t length = std::min(cs, size - pos);
    std::span<uint8_t> old_span(old_data.data(), length), new_span(new_data.data(), length);
    TRY(image.read(pos, old_span));
    std::fill(new_span.begin(), new_span.end(), 0);
    if (pos < next_size) TRY(next->read(pos, new_span.first(std::min(length, next_size - pos))));
    if (!std::equal(old_span.begin(), old_span.end(), new_span.begin())) {
      TRY(image.write(pos, old_span));
    }
  }
  return Ok();
}

}  // namespace

int rebase_verb(std::span<const std::string_view> args) {
  enum {
    kFormat,
    kBacking,
    kBackingFormat,
    kUnsafe,
    kProgress,
    kQuiet,
    kCache,
    kSrcCache,
    kHelp,
    kHelpLong
  };
  const ImgOption specs[] = {{'f', "", true},  {'b', "", true},   {'F', "", true}, {'u', "", false},
                             {'p', "", false}, {'q', "", false},  {'t', "", true}, {'T', "", true},
                             {'h', "", false}, {0, "help", false}};
  auto parsed = parse_img_args(args, specs, "rebase", kImageArgs);
  if (!parsed) return fail(parsed.error().message());
  std::string format, backing, backing_format;
  bool backing_given = false, unsafe = false, progress = false, quiet = false;
  for (const auto& [index, value] : parsed->options) {
    if (index == kFormat) {
      if (!take_format_option(value, format)) return kExitError;
    } else if (index == kBacking) {
      backing = value;
      backing_given = true;
    } else if (index == kBackingFormat) {
      if (!take_format_option(value, backing_format)) return kExitError;
    } else if (index == kUnsafe) {
      unsafe = true;
    } else if (index == kProgress) {
      progress = true;
    } else if (index == kQuiet) {
      quiet = true;
    } else if (index == kHelp || index == kHelpLong) {
      print_help();
      return 0;
    }
  }
  if (auto one = expect_one_image(*parsed, "rebase"); !one) return fail(one.error().message());
  int status = 0;
  auto image_args = take_image_args(*parsed, format, status);
  if (!image_args) return status;
  auto spec = image_args->spec(parsed->positional[0]);
  if (!spec) return fail(spec.error().message());
  if (spec->read_only) return fail("Could not open '" + spec->name + "': Block node is read-only");
  const std::string& path = spec->path;
  format = spec->format;
  if (!backing_given && !unsafe) {
    return fail("Must specify backing file (-b) or use unsafe mode (-u)");
  }
  const std::string change = "Could not change the backing file to '" + backing + "': ";
  if (!backing.empty() && backing_format.empty()) {
    return fail(path + ": " + change + "backing format must be specified (-F)");
  }
  if (format == "raw") return fail(path + ": " + change + "raw images have no backing file");

  // An image that is its own backing file could never be opened again.
  struct stat self, other;
  if (!backing.empty() && stat(path.c_str(), &self) == 0 &&
      stat(resolve_backing_path(path, backing).c_str(), &other) == 0 &&
      self.st_dev == other.st_dev && self.st_ino == other.st_ino) {
    return fail(path + ": " + change + "the backing file would be the image itself");
  }

  block::Qcow2OpenOptions options;
  options.access = block::Access::kReadWrite;
  if (unsafe || spec->no_backing) options.backing = block::Qcow2BackingPolicy::kIgnore;
  const CacheMode cache = spec->cache({});
  options.host_cache = cache.host_cache;
  options.sync = cache.flush;
  options.l2_cache_bytes = spec->l2_cache_bytes;
  if (format.empty()) {
    auto probed = block::probe_image_format(path);
    if (!probed) return fail(probed.error().message());
    if (*probed != block::ImageFormat::kQcow2) {
      return fail(path + ": " + change + "raw images have no backing file");
    }
  }
  auto image = block::Qcow2Image::open(path, options);
  if (!image) return fail(image.error().message());

  if (!unsafe) {
    std::unique_ptr<block::BlockBackend> next;
    if (!backing.empty()) {
      auto opened = open_image(resolve_backing_path(path, backing), backing_format, false);
      if (!opened) {
        return fail("Could not open new backing file '" + backing +
                    "': " + opened.error().message());
      }
      next = std::move(opened->backend);
    }
    Progress bar(progress && !quiet);
    auto copied = copy_differences(**image, next.get(), bar);
    if (!copied) return fail(copied.error().message());
    bar.finish();
  }
  auto done = (*image)->set_backing(backing, backing_format);
  if (done) done = (*image)->close();
  if (!done) return fail(done.error().message());
  return 0;
}

}  // namespace vessel::cli::img
