#include "block/qcow2_compress.h"

#include <zlib.h>
#include <zstd.h>

#include <limits>
#include <memory>

namespace vessel::block {

using qcow2::CompressionType;

namespace {

// Raw deflate: negative window bits mean "no zlib header or trailer". 15 is
// the largest window, so streams written with any smaller one inflate too.
constexpr int kInflateWindowBits = -15;
// What compressed clusters are written with (a 4 KiB window, as is usual for
// qcow2 images).
constexpr int kDeflateWindowBits = -12;
// A cluster is at most 2 MiB, so a frame never needs a larger window; the
// limit keeps a hostile frame from asking for a huge one.
constexpr int kZstdMaxWindowLog = 22;

Result<void> inflate_raw(std::span<const uint8_t> in, std::span<uint8_t> out) {
  z_stream zs = {};
  if (inflateInit2(&zs, kInflateWindowBits) != Z_OK) return Error("zlib initialisation failed");
  zs.next_in = const_cast<Bytef*>(in.data());
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = out.data();
  zs.avail_out = static_cast<uInt>(out.size());
  int rc = inflate(&zs, Z_FINISH);
  bool full = zs.avail_out == 0;
  inflateEnd(&zs);
  // Z_BUF_ERROR with a full output buffer just means more input was left.
  if (full && (rc == Z_STREAM_END || rc == Z_OK || rc == Z_BUF_ERROR)) return Ok();
  if (rc == Z_STREAM_END || rc == Z_BUF_ERROR) return Error("compressed data is too short");
  return Error(std::string("invalid deflate data (") + (zs.msg ? zs.msg : "error") + ")");
}

Result<void> zstd_decompress(std::span<const uint8_t> in, std::span<uint8_t> out) {
  std::unique_ptr<ZSTD_DCtx, size_t (*)(ZSTD_DCtx*)> ctx(ZSTD_createDCtx(), ZSTD_freeDCtx);
  if (!ctx) return Error("zstd initialisation failed");
  ZSTD_DCtx_setParameter(ctx.get(), ZSTD_d_windowLogMax, kZstdMaxWindowLog);
  ZSTD_inBuffer input = {in.data(), in.size(), 0};
  ZSTD_outBuffer output = {out.data(), out.size(), 0};
  // Frames follow each other until the cluster is full.
  while (output.pos < output.size) {
    size_t before_in = input.pos;
    size_t before_out = output.pos;
    size_t rc = ZSTD_decompressStream(ctx.get(), &output, &input);
    if (ZSTD_isError(rc))
      return Error(std::string("invalid zstd data (") + ZSTD_getErrorName(rc) + ")");
    if (input.pos == before_in && output.pos == before_out) {
      return Error("compressed data is too short");
    }
  }
  return Ok();
}

}  // namespace

Result<void> qcow2_decompress(CompressionType type, std::span<const uint8_t> in,
                              std::span<uint8_t> out) {
  if (in.size() > std::numeric_limits<uInt>::max() ||
      out.size() > std::numeric_limits<uInt>::max()) {
    return Error("compressed cluster is too large");
  }
  switch (type) {
    case CompressionType::kZlib:
      return inflate_raw(in, out);
    case CompressionType::kZstd:
      return zstd_decompress(in, out);
  }
  return Error("unknown compression type");
}

Result<std::vector<uint8_t>> qcow2_compress(CompressionType type, std::span<const uint8_t> in) {
  std::vector<uint8_t> out;
  if (type == CompressionType::kZstd) {
    out.resize(ZSTD_compressBound(in.size()));
    size_t n = ZSTD_compress(out.data(), out.size(), in.data(), in.size(), ZSTD_CLEVEL_DEFAULT);
    if (ZSTD_isError(n))
      return Error(std::string("zstd compression failed: ") + ZSTD_getErrorName(n));
    out.resize(n);
  } else {
    z_stream zs = {};
    if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, kDeflateWindowBits, 9,
                     Z_DEFAULT_STRATEGY) != Z_OK) {
      return Error("zlib initialisation failed");
    }
    out.resize(deflateBound(&zs, static_cast<uLong>(in.size())));
    zs.next_in = const_cast<Bytef*>(in.data());
    zs.avail_in = static_cast<uInt>(in.size());
    zs.next_out = out.data();
    zs.avail_out = static_cast<uInt>(out.size());
    int rc = deflate(&zs, Z_FINISH);
    size_t n = out.size() - zs.avail_out;
    deflateEnd(&zs);
    if (rc != Z_STREAM_END) return Error("zlib compression failed");
    out.resize(n);
  }
  if (out.size() >= in.size()) out.clear();
  return out;
}

}  // namespace vessel::block
