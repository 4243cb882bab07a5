#include "vmm/disk_overlay.h"

#include <sys/stat.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <vector>

#include "block/qcow2.h"
#include "block/raw_file.h"

namespace vessel::vmm {
namespace {

std::optional<block::FileIdentity> identity_of(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return std::nullopt;
  return block::FileIdentity{st.st_dev, st.st_ino};
}

Result<std::string> absolute_path(const std::string& path) {
  char resolved[PATH_MAX];
  if (realpath(path.c_str(), resolved) == nullptr) return Error(path + ": " + strerror(errno));
  return std::string(resolved);
}

// Every file under the VM's disks: their images and backing chains.
std::vector<std::string> files_in_use(machine::Board& board) {
  std::vector<std::string> files;
  for (size_t i = 0; i < board.config().disks.size(); ++i) {
    const block::BlockBackend* image = &board.disk_image(i);
    while (image != nullptr) {
      if (const auto* q = dynamic_cast<const block::Qcow2Image*>(image)) {
        files.push_back(q->path());
        if (q->data_path() != q->path()) files.push_back(q->data_path());
        image = q->backing();
      } else {
        if (const auto* raw = dynamic_cast<const block::RawFile*>(image))
          files.push_back(raw->path());
        image = nullptr;
      }
    }
  }
  return files;
}

Result<void> check_not_in_use(machine::Board& board, const std::string& overlay_path) {
  std::optional<block::FileIdentity> overlay = identity_of(overlay_path);
  if (!overlay) return Ok();
  for (const std::string& file : files_in_use(board)) {
    if (identity_of(file) == overlay) {
      return Error("'" + overlay_path + "' is in use by the VM ('" + file + "')");
    }
  }
  return Ok();
}

// mode=existing: the overlay must already name the current image as its
// backing file, since that is what it will be read with.
Result<void> check_existing(const std::string& overlay_path, const std::string& base_path) {
  block::Qcow2OpenOptions options;
  options.backing = block::Qcow2BackingPolicy::kIgnore;
  TRY_ASSIGN(std::unique_ptr<block::Qcow2Image> overlay,
             block::Qcow2Image::open(overlay_path, options));
  const std::string& named = overlay->info().backing_file;
  if (named.empty()) return Error(overlay_path + ": the overlay has no backing file");
  const std::string resolved = block::resolve_backing_path(overlay_path, named);
  if (!identity_of(resolved) || identity_of(resolved) != identity_of(base_path)) {
    return Error(overlay_path + ": the overlay's backing file is '" + named + "', not '" +
                 base_path + "'");
  }
  return Ok();
}

}  // namespace

Result<void> snapshot_to_overlay(machine::Board& board, size_t index,
                                 const std::string& overlay_path, OverlayMode mode) {
  const machine::DiskConfig current = board.config().disks.at(index);
  if (current.read_only) return Error("the disk is read-only");
  TRY(check_not_in_use(board, overlay_path));
  TRY_ASSIGN(const std::string base, absolute_path(current.path));
  const uint64_t size = board.disk_image(index).size();
  if (mode == OverlayMode::kAbsolutePaths) {
    block::Qcow2CreateOptions create;
    create.size = size;
    create.backing_file = base;
    create.backing_format = block::image_format_name(current.format);
    TRY(block::Qcow2Image::create(overlay_path, create));
  } else {
    TRY(check_existing(overlay_path, base));
  }
  machine::DiskConfig next = current;
  next.path = overlay_path;
  next.format = block::ImageFormat::kQcow2;
  Result<void> switched = board.replace_disk_image(
      index, next, [&](block::BlockBackend& old) -> Result<std::unique_ptr<block::BlockBackend>> {
        // What the guest wrote so far is in the base before the overlay reads it.
        TRY(old.flush());
        block::Qcow2OpenOptions options;
        options.access = block::Access::kReadWrite;
        TRY_ASSIGN(std::unique_ptr<block::Qcow2Image> overlay,
                   block::Qcow2Image::open(overlay_path, options));
        return std::unique_ptr<block::BlockBackend>(std::move(overlay));
      });
  if (!switched && mode == OverlayMode::kAbsolutePaths) unlink(overlay_path.c_str());
  return switched;
}

}  // namespace vessel::vmm
