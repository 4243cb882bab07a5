// Compressed clusters ("Compressed Clusters Descriptor" and compression_type
// in the qcow2 spec): zlib clusters are raw deflate streams (no zlib header),
// zstd clusters are zstd frames. Either may be followed by unrelated bytes up
// to the end of its last sector, so decompression stops once a whole cluster
// has come out.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "base/result.h"
#include "block/qcow2_format.h"

namespace vessel::block {

// Fills all of `out` from `in`; an error (without context, the caller adds
// it) when the data is damaged or too short for a whole cluster.
Result<void> qcow2_decompress(qcow2::CompressionType type, std::span<const uint8_t> in,
                              std::span<uint8_t> out);

// Compresses one cluster. Returns an empty vector when the result would not
// be smaller than the input (the cluster is then stored uncompressed).
Result<std::vector<uint8_t>> qcow2_compress(qcow2::CompressionType type,
                                            std::span<const uint8_t> in);

}  // namespace vessel::block
