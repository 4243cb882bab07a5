// vessel img commit: writes what the top image (and any image between it and
// the base) holds into the base image, as qemu-img commit does: the base
// grows to the top's size when smaller; then, unless -d or -b, the top image
// is emptied so it reads through to its backing file again. Images between
// the top and a deeper base are left as they are (qemu-img documents them as
// invalid afterwards).
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "cli/img_chain.h"
#include "cli/img_common.h"
#include "cli/img_image_spec.h"
#include "cli/img_verbs.h"

namespace vessel::cli::img {
namespace {

void print_help() {
  std::printf(
      "Usage: vessel img commit [-q] [-f fmt] [-b base] [-d] [-p] filename\n"
      "\n"
      "Copies every cluster 'filename' holds into its backing file, then empties\n"
      "'filename' so that it reads through to the updated backing file.\n"
      "\n"
      "Options:\n"
      "  -f fmt       format of 'filename' (qcow2; probed when absent)\n"
      "  -b base      commit into this deeper image of the backing chain (implies -d;\n"
      "               the images in between are no longer valid afterwards)\n"
      "  -d           keep the contents of 'filename' (do not empty it)\n"
      "  -p           show progress\n"
      "  -q           quiet\n"
      "  -h, --help   show this help\n"
      "\n"
      "Exit status: 0 on success, 1 on any error.\n");
  print_image_args_help(kImageArgs);
}

// The file a path names, whatever the spelling (empty when it does not exist).
std::string canonical(const std::string& path) {
  char buf[PATH_MAX];
  return realpath(path.c_str(), buf) != nullptr ? std::string(buf) : std::string();
}

// Which layer of the chain `name` designates: a backing file name as stored
// in the layer above it, or a path to the same file (from here, or relative
// to the top image like backing file names).
int find_base(const Chain& chain, const std::string& name) {
  const std::string here = canonical(name);
  const std::string beside_top = canonical(resolve_backing_path(chain[0]->path, name));
  for (size_t i = 1; i < chain.size(); ++i) {
    const std::string& stored = chain[i - 1]->qcow2->info().backing_file;
    const std::string layer = canonical(chain[i]->path);
    if (stored == name || (!layer.empty() && (layer == here || layer == beside_top))) {
      return static_cast<int>(i);
    }
  }
  return -1;
}

// Grows a raw base file to `size` bytes (new bytes read as zeros).
Result<void> grow_raw(const std::string& path, uint64_t size) {
  if (truncate(path.c_str(), static_cast<off_t>(size)) != 0) {
    return Error(path + ": cannot resize: " + std::strerror(errno));
  }
  return Ok();
}

}  // namespace

int commit_verb(std::span<const std::string_view> args) {
  enum { kFormat, kBase, kDrop, kProgress, kQuiet, kCache, kRate, kHelp, kHelpLong };
  const ImgOption specs[] = {{'f', "", true},  {'b', "", true},  {'d', "", false},
                             {'p', "", false}, {'q', "", false}, {'t', "", true},
                             {'r', "", true},  {'h', "", false}, {0, "help", false}};
  auto parsed = parse_img_args(args, specs, "commit", kImageArgs);
  if (!parsed) return fail(parsed.error().message());
  std::string format, base_name;
  bool drop = false, progress = false, quiet = false, base_given = false;
  for (const auto& [index, value] : parsed->options) {
    if (index == kFormat) {
      if (!take_format_option(value, format)) return kExitError;
    } else if (index == kBase) {
      base_name = value;
      base_given = true;
      drop = true;  // "-b implies -d": the top stays valid
    } else if (index == kDrop) {
      drop = true;
    } else if (index == kProgress) {
      progress = true;
    } else if (index == kQuiet) {
      quiet = true;
    } else if (index == kHelp || index == kHelpLong) {
      print_help();
      return 0;
    }
  }
  if (auto one = expect_one_image(*parsed, "commit"); !one) return fail(one.error().message());
  int status = 0;
  auto image_args = take_image_args(*parsed, format, status);
  if (!image_args) return status;
  auto spec = image_args->spec(parsed->positional[0]);
  if (!spec) return fail(spec.error().message());
  const std::string& path = spec->path;
  auto opened = open_chain(*spec, !drop);
  if (!opened) return fail(opened.error().message());
  Chain chain = std::move(opened).value();
  if (chain.size() < 2) return fail(path + ": Image does not have a backing file");
  int base_depth = 1;
  if (base_given) {
    base_depth = find_base(chain, base_name);
    if (base_depth < 0) {
      return fail("Did not find '" + base_name + "' in the backing chain of '" + path + "'");
    }
  }
  const std::string base_path = chain[base_depth]->path;
  const std::string base_format = chain[base_depth]->qcow2 != nullptr ? "qcow2" : "raw";
  const uint64_t size = chain[0]->backend->size();

  // The base gets its own read-write handle; the chain keeps reading the
  // layers above it, which are all that is copied.
  if (chain[base_depth]->backend->size() < size && base_format == "raw") {
    if (auto grown = grow_raw(base_path, size); !grown) return fail(grown.error().message());
  }
  auto base = open_image(base_path, base_format, true);
  if (!base) return fail(base.error().message());
  if (base->qcow2 != nullptr && base->qcow2->size() < size) {
    if (auto grown = base->qcow2->resize(size, false); !grown) return fail(grown.error().message());
  }

  Progress bar(progress && !quiet);
  std::vector<uint8_t> buffer;
  for (uint64_t pos = 0; pos < size;) {
    auto e = extent_at(chain, 0, pos, size - pos);
    if (!e) return fail(e.error().message());
    // Everything the top reads from above the base goes into the base: data,
    // zero clusters, and the zeros past the end of a shorter layer between
    // them (not "present", yet they hide what the base holds there).
    if (e->depth < static_cast<unsigned>(base_depth)) {
      Result<void> copied = Ok();
      if (e->zero) {
        copied = base->backend->write_zeroes(pos, e->length, block::ZeroMode::kDeallocate);
      } else {
        buffer.resize(e->length);
        copied = chain[0]->backend->read(pos, buffer);
        if (copied) copied = base->backend->write(pos, buffer);
      }
      if (!copied) return fail(copied.error().message());
    }
    pos += e->length;
    bar.update(pos, size);
  }
  // The base holds everything durably before the top lets go of it.
  Result<void> done = base->qcow2 != nullptr ? base->qcow2->close() : base->backend->flush();
  if (done && !drop) done = chain[0]->qcow2->make_empty();
  if (done && !drop) done = chain[0]->qcow2->close();
  if (!done) return fail(done.error().message());
  bar.finish();
  if (!quiet) std::printf("Image committed.\n");
  return 0;
}

}  // namespace vessel::cli::img
