#include "daemon/storage_volume.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "block/host_file.h"
#include "block/qcow2_header.h"
#include "daemon/virt_error.h"
#include "storage/create.h"

namespace vessel::daemon {
namespace {

Error system_error(const std::string& what, const std::string& path, int error) {
  return virt_error::make(virt_error::kSystemError,
                          what + " '" + path + "': " + std::strerror(error));
}

// The virtual size a qcow2 header gives, or nothing when the file is not a
// qcow2 image (or a damaged one, shown as the raw file it then is).
std::optional<uint64_t> qcow2_size(const std::string& path) {
  auto file = block::HostFile::open(path, block::Access::kReadOnly);
  if (!file.ok()) return std::nullopt;
  uint8_t magic[4] = {};
  if (!(*file)->read_padded(0, magic).ok()) return std::nullopt;
  if (block::qcow2::load_be32(magic) != block::qcow2::kMagic) return std::nullopt;
  auto header = block::parse_qcow2_header(**file);
  if (!header.ok()) return std::nullopt;
  return header->size;
}

// A raw volume: the file at its capacity, with `allocation` bytes of it
// allocated up front.
Result<void> create_raw(int fd, const std::string& path, const VolumeDef& def) {
  if (::ftruncate(fd, static_cast<off_t>(def.capacity)) != 0) {
    return system_error("cannot resize", path, errno);
  }
  if (def.allocation > 0) {
    int rc = ::posix_fallocate(fd, 0, static_cast<off_t>(def.allocation));
    if (rc != 0) return system_error("cannot allocate", path, rc);
  }
  if (::fsync(fd) != 0) return system_error("cannot sync", path, errno);
  return Ok();
}

// As libvirt makes one with qemu-img create (which rounds the size up to
// whole sectors).
Result<void> create_qcow2(const std::string& path, const VolumeDef& def, bool preallocate) {
  storage::CreateRequest request;
  request.path = path;
  request.format = block::ImageFormat::kQcow2;
  request.size = def.capacity;
  block::Qcow2CreateOptions& options = request.options.qcow2;
  options.version = def.qcow2_v2 ? block::Qcow2Version::kV2 : block::Qcow2Version::kV3;
  options.lazy_refcounts = def.lazy_refcounts;
  // As libvirt asks of qemu-img: metadata preallocation on request, or for
  // a volume meant to be allocated (Vessel cannot preallocate qcow2 data).
  if (preallocate || def.allocation > 0) {
    options.preallocation = block::Qcow2Preallocation::kMetadata;
  }
  auto plan = storage::plan_create(std::move(request));
  Result<void> created = plan.ok() ? storage::create_image(*plan) : Result<void>(plan.error());
  if (!created.ok()) {
    return virt_error::make(virt_error::kInternalError, created.error().message());
  }
  return Ok();
}

}  // namespace

Result<VolumeInfo> inspect_volume(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return system_error("cannot stat", path, errno);
  if (!S_ISREG(st.st_mode)) {
    return virt_error::make(virt_error::kNoStorageVolume, "'" + path + "' is not a regular file");
  }
  VolumeInfo info;
  info.path = path;
  info.name = path.substr(path.rfind('/') + 1);
  info.physical = static_cast<uint64_t>(st.st_size);
  info.allocation = static_cast<uint64_t>(st.st_blocks) * 512;
  info.capacity = info.physical;
  info.mode = st.st_mode & 07777;
  info.owner = st.st_uid;
  info.group = st.st_gid;
  if (auto size = qcow2_size(path)) {
    info.format = VolumeFormat::kQcow2;
    info.capacity = *size;
  }
  return info;
}

Result<void> create_volume(const std::string& path, const VolumeDef& def,
                           bool preallocate_metadata) {
  // O_EXCL claims the name: a volume is never created over an existing file.
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0 && errno == EEXIST) {
    return virt_error::make(virt_error::kStorageVolumeExists,
                            "storage volume '" + def.name + "' exists already");
  }
  if (fd < 0) return system_error("cannot create", path, errno);
  Result<void> made = def.format == VolumeFormat::kQcow2
                          ? create_qcow2(path, def, preallocate_metadata)
                          : create_raw(fd, path, def);
  ::close(fd);
  if (!made.ok()) ::unlink(path.c_str());
  return made;
}

}  // namespace vessel::daemon
