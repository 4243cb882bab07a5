#include "block/raw_file.h"

#include <utility>

namespace vessel::block {

Result<std::unique_ptr<RawFile>> RawFile::open(const std::string& path, bool read_only,
                                               HostCache cache) {
  auto file = HostFile::open(path, read_only ? Access::kReadOnly : Access::kReadWrite, cache);
  if (!file.ok()) {
    if (!read_only && file.error().message() == path + ": permission denied") {
      return Error(file.error().message() + " (open it read-only if it must not change)");
    }
    return file.error();
  }
  return std::unique_ptr<RawFile>(new RawFile(std::move(file).value()));
}

Result<void> RawFile::check_range(const char* what, uint64_t offset, uint64_t length) const {
  if (offset > size() || length > size() - offset) {
    return Error(path() + ": " + what + " of " + std::to_string(length) + " bytes at offset " +
                 std::to_string(offset) + " is beyond the end of the image (" +
                 std::to_string(size()) + " bytes)");
  }
  return Ok();
}

Result<void> RawFile::read(uint64_t offset, std::span<uint8_t> out) {
  TRY(check_range("read", offset, out.size()));
  return file_->read(offset, out);
}

Result<void> RawFile::write(uint64_t offset, std::span<const uint8_t> data) {
  if (read_only()) return Error(path() + ": image is read-only");
  TRY(check_range("write", offset, data.size()));
  return file_->write(offset, data);
}

Result<void> RawFile::write_zeroes(uint64_t offset, uint64_t length, ZeroMode mode) {
  if (read_only()) return Error(path() + ": image is read-only");
  TRY(check_range("zero write", offset, length));
  TRY_ASSIGN(bool done, file_->zero_range(offset, length, mode == ZeroMode::kDeallocate));
  if (done) return Ok();
  return BlockBackend::write_zeroes(offset, length, mode);
}

Result<void> RawFile::discard(uint64_t offset, uint64_t length) {
  if (read_only()) return Error(path() + ": image is read-only");
  TRY(check_range("discard", offset, length));
  TRY(file_->zero_range(offset, length, /*deallocate=*/true));
  return Ok();
}

Result<bool> RawFile::known_zero(uint64_t offset, uint64_t length) {
  TRY(check_range("read", offset, length));
  return file_->is_hole(offset, length);
}

Result<void> RawFile::flush() {
  return file_->sync();
}

}  // namespace vessel::block
