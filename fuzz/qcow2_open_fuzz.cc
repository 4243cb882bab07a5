// libFuzzer target for the qcow2 block layer: the input is an image file. It
// is opened read-only and guest clusters are read; then a copy is opened
// read-write, written, zeroed, flushed and closed, and read back. Nothing may
// crash, leak, hang or allocate without bound, whatever the bytes. Backing
// files are refused so that no file outside the scratch directory is opened;
// an image with an external data file gets an empty one in the scratch
// directory instead of the file it names.
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "block/qcow2.h"
#include "block/qcow2_header.h"

namespace {

using vessel::block::Access;
using vessel::block::HostFile;
using vessel::block::Qcow2BackingPolicy;
using vessel::block::Qcow2Image;
using vessel::block::ZeroMode;

// Guest bytes read per opened image: the whole disk when it is small, else
// clusters spread evenly over it.
constexpr uint64_t kReadBudget = uint64_t{4} << 20;

// A private directory for the input file, removed at exit.
struct ScratchDir {
  std::string path;
  ScratchDir() {
    std::string base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    path = base + "/vessel-fuzz-XXXXXX";
    if (mkdtemp(path.data()) == nullptr) abort();
  }
  ~ScratchDir() { rmdir(path.c_str()); }
};

const std::string& scratch_dir() {
  static const ScratchDir dir;
  return dir.path;
}

bool store(const std::string& path, const uint8_t* data, size_t size) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) return false;
  size_t done = 0;
  while (done < size) {
    ssize_t n = write(fd, data + done, size - done);
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  close(fd);
  return done == size;
}

void read_clusters(Qcow2Image& image) {
  const uint64_t cs = image.info().cluster_size;
  const uint64_t size = image.size();
  if (size == 0) return;
  const uint64_t clusters = (size + cs - 1) / cs;
  const uint64_t budget = std::max<uint64_t>(kReadBudget / cs, 4);
  const uint64_t step = std::max<uint64_t>(clusters / budget, 1);
  std::vector<uint8_t> buffer(cs + 4096);
  for (uint64_t c = 0; c < clusters; c += step) {
    uint64_t offset = c * cs;
    uint64_t length = std::min(cs, size - offset);
    (void)image.read(offset, std::span(buffer).first(length));
    (void)image.cluster_allocation(offset);
  }
  // A read that crosses cluster (and subcluster) boundaries unaligned.
  uint64_t offset = size / 3 - std::min<uint64_t>(size / 3, 700);
  uint64_t length = std::min<uint64_t>(size - offset, buffer.size());
  (void)image.read(offset, std::span(buffer).first(length));
}

void write_some(Qcow2Image& image) {
  const uint64_t cs = image.info().cluster_size;
  const uint64_t size = image.size();
  if (size == 0) return;
  std::vector<uint8_t> data(std::max<uint64_t>(2 * cs, 8192), 0x5a);
  auto write_at = [&](uint64_t offset, uint64_t length) {
    if (offset >= size) return;
    length = std::min({length, size - offset, uint64_t{data.size()}});
    (void)image.write(offset, std::span<const uint8_t>(data).first(length));
  };
  write_at(0, 4096);
  write_at(3 * cs - 100, cs + 200);  // partial clusters on both sides: copy-on-write
  write_at(size / 2, 512);
  if (size > cs) (void)image.write_zeroes(cs, cs, ZeroMode::kDeallocate);
  if (size > 5 * cs) (void)image.write_zeroes(5 * cs, cs, ZeroMode::kKeepAllocation);
  if (size > 4 * cs) (void)image.write_compressed(2 * cs, std::span(data).first(cs));
  (void)image.flush();
  write_at(size - std::min<uint64_t>(size, 1000), 1000);
  (void)image.close();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = scratch_dir() + "/input.qcow2";
  if (!store(path, data, size)) return 0;
  Qcow2Image::OpenOptions options;
  options.backing = Qcow2BackingPolicy::kRefuse;
  const std::string data_path = scratch_dir() + "/input.data";
  bool external_data = false;
  if (auto file = HostFile::open(path, Access::kReadOnly); file.ok()) {
    auto header = vessel::block::parse_qcow2_header(**file);
    external_data = header.ok() && header->external_data();
  }
  if (external_data) {
    if (!store(data_path, nullptr, 0)) return 0;
    options.data_file = data_path;
  }
  if (auto image = Qcow2Image::open(path, options); image.ok()) read_clusters(**image);

  options.access = Access::kReadWrite;
  if (auto image = Qcow2Image::open(path, options); image.ok()) {
    write_some(**image);
    image->reset();
    options.access = Access::kReadOnly;
    if (auto again = Qcow2Image::open(path, options); again.ok()) read_clusters(**again);
  }
  unlink(path.c_str());
  if (external_data) unlink(data_path.c_str());
  return 0;
}
