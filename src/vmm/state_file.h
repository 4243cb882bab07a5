// The file a saved VM lives in (QMP `migrate` to file:/exec:, `vessel run
// --incoming`): a fixed header, then the machine state (base/state.h).
//
//   0   8  magic "VESSELVM"
//   8   4  file format version (kStateFileVersion), little-endian
//   12  4  CRC-32 of the state bytes
//   16  8  length of the state bytes
//   24     the state
//
// A file of another version, a short file or one whose bytes do not match
// their CRC is refused with an error naming the file; nothing is restored
// from it.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "base/mapped_buffer.h"
#include "base/result.h"

namespace vessel::vmm {

inline constexpr uint32_t kStateFileVersion = 1;

// "file:PATH" (written to PATH.tmp, synced, renamed) or "exec:COMMAND" (piped
// to `sh -c COMMAND`, which must exit 0).
Result<void> write_state(const std::string& uri, std::span<const uint8_t> state);
// "file:PATH" or "exec:COMMAND" (its standard output is read): the state,
// checked.
Result<MappedBuffer> read_state(const std::string& uri);

// The header and checks alone, for tests and fuzzing.
std::vector<uint8_t> encode_state_file(std::span<const uint8_t> state);
Result<std::vector<uint8_t>> decode_state_file(std::span<const uint8_t> file,
                                               const std::string& name);

}  // namespace vessel::vmm
