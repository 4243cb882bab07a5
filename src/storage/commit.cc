#include "storage/commit.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>

#include "storage/chain.h"

namespace vessel::storage {
namespace {

// The file a path names, whatever the spelling (empty when it does not exist).
std::string canonical(const std::string& path) {
  char buf[PATH_MAX];
  return realpath(path.c_str(), buf) != nullptr ? std::string(buf) : std::string();
}

// Which layer of the chain `name` designates: a backing file name as stored
// in the layer above it, or a path to the same file (from here, or relative
// to the top image like backing file names).
int find_base(const storage::Chain& chain, const std::string& name) {
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

Result<void> commit_image(const CommitRequest& request, const ProgressFn& progress) {
  const std::string& path = request.top.path;
  const bool drop = request.top_after == CommitTop::kKeep;
  TRY_ASSIGN(Chain chain, open_chain(request.top, !drop));
  if (chain.size() < 2) return Error(path + ": Image does not have a backing file");
  int base_depth = 1;
  if (request.base) {
    base_depth = find_base(chain, *request.base);
    if (base_depth < 0) {
      return Error("Did not find '" + *request.base + "' in the backing chain of '" + path + "'");
    }
  }
  const std::string base_path = chain[base_depth]->path;
  const std::string base_format = chain[base_depth]->qcow2 != nullptr ? "qcow2" : "raw";
  const uint64_t size = chain[0]->backend->size();

  // The base gets its own read-write handle; the chain keeps reading the
  // layers above it, which are all that is copied.
  if (chain[base_depth]->backend->size() < size && base_format == "raw") {
    TRY(grow_raw(base_path, size));
  }
  auto base = open_image(base_path, base_format, true);
  if (!base) return base.error();
  if (base->qcow2 != nullptr && base->qcow2->size() < size) {
    TRY(base->qcow2->resize(size, false));
  }

  std::vector<uint8_t> buffer;
  for (uint64_t pos = 0; pos < size;) {
    auto e = extent_at(chain, 0, pos, size - pos);
    if (!e) return e.error();
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
      if (!copied) return copied.error();
    }
    pos += e->length;
    if (progress) progress(pos, size);
  }
  // The base holds everything durably before the top lets go of it.
  Result<void> done = base->qcow2 != nullptr ? base->qcow2->close() : base->backend->flush();
  if (done && !drop) done = chain[0]->qcow2->make_empty();
  if (done && !drop) done = chain[0]->qcow2->close();
  return done;
}

}  // namespace vessel::storage
