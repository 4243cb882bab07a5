// HostFile with O_DIRECT (qemu's cache=none and cache=directsync): reads and
// writes bypass the host page cache, so their buffers, file offsets and
// lengths must be aligned (open(2), "O_DIRECT"). Aligned requests go to the
// file as they are. The others pass through an aligned bounce buffer, as in
// qemu (block/io.c pads unaligned requests to the request alignment, and
// file-posix.c bounces misaligned buffers):
//
//   - a read reads the aligned blocks around it and copies out its bytes;
//   - a write whose offsets are aligned but whose buffer is not is copied;
//   - a write that starts or ends inside a block reads that block first
//     (read-modify-write). These writes are serialized by a lock, so that two
//     of them that touch different bytes of one block cannot both read the
//     block before either writes it, which would lose the first one's bytes.
//     Writes that grow the file take the lock too, because a read-modify-write
//     past the end of the file writes a whole block and then trims the file
//     back to its size.
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "block/aligned_buffer.h"
#include "block/host_file.h"

namespace vessel::block {
namespace {

// The largest bounce buffer: big unaligned requests go through it in pieces.
constexpr uint64_t kMaxBounce = uint64_t{1} << 20;
// Without STATX_DIOALIGN (file systems that do not report it, such as tmpfs,
// and kernels before 6.1): the page size, a multiple of the logical block
// size of every file system and nearly every device.
constexpr uint32_t kFallbackAlignment = 4096;

uint64_t round_down(uint64_t value, uint64_t align) {
  return value / align * align;
}

uint64_t round_up(uint64_t value, uint64_t align) {
  return (value + align - 1) / align * align;
}

}  // namespace

Result<std::unique_ptr<HostFile::DirectIo>> HostFile::direct_io_for(int fd,
                                                                    const std::string& path) {
  auto io = std::make_unique<DirectIo>();
  io->mem_align = kFallbackAlignment;
  io->offset_align = kFallbackAlignment;
#ifdef STATX_DIOALIGN
  struct statx stx {};
  if (statx(fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &stx) == 0 &&
      (stx.stx_mask & STATX_DIOALIGN) != 0) {
    // statx(2): "If direct I/O is not supported on the file, both fields
    // are 0."
    if (stx.stx_dio_offset_align == 0) {
      return Error(path +
                   ": filesystem does not support O_DIRECT for this file (which cache modes "
                   "none and directsync use; writeback and writethrough do not)");
    }
    io->mem_align = std::max<uint32_t>(stx.stx_dio_mem_align, 1);
    io->offset_align = stx.stx_dio_offset_align;
    return io;
  }
#endif
  struct stat st {};
  int sector = 0;
  if (fstat(fd, &st) == 0 && S_ISBLK(st.st_mode) && ioctl(fd, BLKSSZGET, &sector) == 0 &&
      sector > 0) {
    uint32_t logical = static_cast<uint32_t>(sector);
    io->offset_align = std::max(io->offset_align, logical);
    io->mem_align = std::max(io->mem_align, logical);
  }
  return io;
}

bool HostFile::direct_aligned(const void* buffer, uint64_t offset, uint64_t length) const {
  return reinterpret_cast<uintptr_t>(buffer) % direct_->mem_align == 0 &&
         offset % direct_->offset_align == 0 && length % direct_->offset_align == 0;
}

Result<void> HostFile::read_direct(uint64_t offset, std::span<uint8_t> out) const {
  auto truncated = [&](uint64_t at) {
    return Error(path_ + ": unexpected end of file at offset " + std::to_string(at) +
                 " (was the image truncated?)");
  };
  if (direct_aligned(out.data(), offset, out.size())) {
    TRY_ASSIGN(uint64_t got, pread_some(offset, out));
    if (got < out.size()) return truncated(offset + got);
    return Ok();
  }
  const uint64_t align = direct_->offset_align;
  AlignedBuffer bounce(std::min(kMaxBounce, round_up(out.size(), align) + align),
                       std::max<size_t>(direct_->mem_align, kDirectIoAlignment));
  uint64_t done = 0;
  while (done < out.size()) {
    const uint64_t pos = offset + done;
    const uint64_t start = round_down(pos, align);
    const uint64_t skip = pos - start;
    const uint64_t chunk = std::min<uint64_t>(out.size() - done, bounce.size() - skip);
    // At the end of the file pread stops short of the aligned length.
    TRY_ASSIGN(uint64_t got, pread_some(start, bounce.span().first(round_up(skip + chunk, align))));
    if (got < skip + chunk) return truncated(start + std::max(got, skip));
    std::memcpy(out.data() + done, bounce.data() + skip, chunk);
    done += chunk;
  }
  return Ok();
}

Result<void> HostFile::write_direct(uint64_t offset, std::span<const uint8_t> data) {
  const uint64_t align = direct_->offset_align;
  if (offset % align != 0 || data.size() % align != 0) return read_modify_write(offset, data);
  if (offset + data.size() <= size()) return write_blocks(offset, data);
  // Growing the file (as qcow2 does when it allocates clusters).
  std::lock_guard<std::mutex> lock(direct_->mu);
  TRY(write_blocks(offset, data));
  grow_to(offset + data.size());
  return Ok();
}

Result<void> HostFile::write_blocks(uint64_t offset, std::span<const uint8_t> data) {
  if (direct_aligned(data.data(), offset, data.size())) return pwrite_all(offset, data);
  // Whole blocks from a misaligned buffer: copied, nothing to read first.
  AlignedBuffer bounce(std::min<uint64_t>(kMaxBounce, data.size()),
                       std::max<size_t>(direct_->mem_align, kDirectIoAlignment));
  for (uint64_t done = 0; done < data.size();) {
    const uint64_t chunk = std::min<uint64_t>(data.size() - done, bounce.size());
    std::memcpy(bounce.data(), data.data() + done, chunk);
    TRY(pwrite_all(offset + done, bounce.span().first(chunk)));
    done += chunk;
  }
  return Ok();
}

Result<void> HostFile::read_modify_write(uint64_t offset, std::span<const uint8_t> data) {
  std::lock_guard<std::mutex> lock(direct_->mu);
  const uint64_t align = direct_->offset_align;
  const uint64_t old_size = size();
  const uint64_t new_size = std::max(old_size, offset + data.size());
  AlignedBuffer bounce(std::min(kMaxBounce, round_up(data.size(), align) + align),
                       std::max<size_t>(direct_->mem_align, kDirectIoAlignment));
  // Reads the block at `block` into the bounce buffer at `at`; past the end
  // of the file it reads as zeros.
  auto fill_block = [&](uint64_t at, uint64_t block) -> Result<void> {
    std::span<uint8_t> dest = bounce.span().subspan(at, align);
    TRY_ASSIGN(uint64_t got, pread_some(block, dest));
    std::fill(dest.begin() + static_cast<ptrdiff_t>(got), dest.end(), uint8_t{0});
    return Ok();
  };
  uint64_t written_end = 0;
  for (uint64_t done = 0; done < data.size();) {
    const uint64_t pos = offset + done;
    const uint64_t start = round_down(pos, align);
    const uint64_t skip = pos - start;
    const uint64_t chunk = std::min<uint64_t>(data.size() - done, bounce.size() - skip);
    const uint64_t blocks = round_up(skip + chunk, align);
    if (skip != 0) TRY(fill_block(0, start));
    if ((skip + chunk) % align != 0 && (blocks > align || skip == 0)) {
      TRY(fill_block(blocks - align, start + blocks - align));
    }
    std::memcpy(bounce.data() + skip, data.data() + done, chunk);
    TRY(pwrite_all(start, bounce.span().first(blocks)));
    written_end = start + blocks;
    done += chunk;
  }
  // The last block went out whole: what it added past the end is not ours.
  if (written_end > new_size) {
    int rc;
    do {
      rc = ftruncate(fd_, static_cast<off_t>(new_size));
    } while (rc != 0 && errno == EINTR);
    if (rc != 0) return Error("write error on " + path_ + ": " + std::strerror(errno));
  }
  grow_to(new_size);
  return Ok();
}

}  // namespace vessel::block
