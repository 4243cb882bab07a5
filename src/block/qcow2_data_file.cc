// The external data file (qcow2 spec, incompatible feature bit 2 "External
// data file bit", the "External data file name string" header extension and
// autoclear bit 1 "Raw external data bit"): guest clusters live in another
// file, each at its guest offset ("The offset field in the Standard Cluster
// Descriptor must match the guest offset"), and are not refcounted; the
// image file holds only metadata. With raw external data the data file alone
// reads as the disk, so whatever makes a range read as zeros also zeros it
// in the data file. Compressed clusters and internal snapshots do not exist
// in such images.
#include <vector>

#include "block/qcow2.h"

namespace vessel::block {

using namespace qcow2;

Result<void> Qcow2Image::open_data_file(const OpenOptions& options) {
  const std::string& path = file_->path();
  if (!header_.external_data()) {
    if (!options.data_file.empty()) {
      return Error(path + ": 'data-file' can only be set for images with an external data file");
    }
    return Ok();
  }
  std::string name = options.data_file;
  if (name.empty()) {
    if (header_.data_file.empty()) {
      return Error(path +
                   ": the image has an external data file but does not name it "
                   "('data-file' is required for this image)");
    }
    if (options.backing == Qcow2BackingPolicy::kRefuse) {
      return Error(path + ": the image keeps its data in the external data file '" +
                   header_.data_file + "', which is not opened for an untrusted image");
    }
    // As QEMU opens it: a relative name is relative to the current
    // directory (not to the image, unlike a backing file name).
    name = header_.data_file;
  }
  auto opened = HostFile::open(name, options.access);
  if (!opened.ok()) {
    return Error(path + ": cannot open its external data file: " + opened.error().message());
  }
  data_file_ = std::move(opened).value();
  data_file_->set_sync_enabled(options.sync);
  if (data_file_->identity() == file_->identity()) {
    return Error(path + ": the external data file is the image itself");
  }
  return Ok();
}

Result<Qcow2Image::DataCluster> Qcow2Image::allocate_data(uint64_t guest_offset, uint64_t count) {
  if (data_file_) {
    return DataCluster{guest_offset & ~(geometry_.cluster_size() - 1), false};
  }
  TRY_ASSIGN(auto alloc, refcounts_->allocate(count));
  return DataCluster{alloc.offset, alloc.fresh};
}

Result<void> Qcow2Image::zero_raw_data(uint64_t offset, uint64_t length) {
  if (!data_file_ || !info_.data_file_raw || length == 0) return Ok();
  TRY_ASSIGN(bool punched, data_file_->zero_range(offset, length, /*deallocate=*/true));
  if (!punched) {
    std::vector<uint8_t> zeros(std::min<uint64_t>(length, uint64_t{1} << 20), 0);
    for (uint64_t done = 0; done < length;) {
      uint64_t n = std::min<uint64_t>(zeros.size(), length - done);
      TRY(data_file_->write(offset + done, std::span<const uint8_t>(zeros).first(n)));
      done += n;
    }
  }
  unsynced_ = true;
  return Ok();
}

Result<void> Qcow2Image::check_no_external_data(const char* what) const {
  if (!data_file_) return Ok();
  return Error(file_->path() + ": " + what + " not supported with an external data file");
}

}  // namespace vessel::block
