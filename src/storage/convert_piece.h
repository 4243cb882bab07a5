// What `vessel img convert` does with one piece of the source: a run of
// sparse-size units on the plain path, one output cluster with -c, or a whole
// step that the source reports as a hole. Both copy paths ask this one
// function, so that they cannot disagree on what the target ends up holding.
#pragma once

namespace vessel::storage {

enum class PieceAction {
  kSkip,         // leave the target as it is: it already reads as this piece
  kWriteZeroes,  // make the range read as zeros without writing data
  kWriteData,    // write the bytes (compressed with -c)
};

// The conversion's settings that the decision depends on.
struct PiecePolicy {
  bool fresh_target = true;  // created by this conversion (not -n): reads as zeros
  bool has_base = false;     // -B: the target reads through to this backing file
  bool sparse = true;        // -S is not 0: zeros need not be stored as data
};

// `zero`: the piece reads as zeros. `same_as_base`: with -B, the base holds
// the same bytes there (ignored without -B).
//
// As qemu-img convert (qemu-img.c, convert_co_write()): a zero range is
// skipped only when the target is known to read as zeros there (a new image
// without a backing file, "has_zero_init"); otherwise it becomes a zero write
// (blk_co_pwrite_zeroes with BDRV_REQ_MAY_UNMAP), which qcow2 stores as zero
// clusters and a raw file as a hole, whatever the target held before (-n).
// -S 0 asks for every byte to be written as data.
constexpr PieceAction piece_action(const PiecePolicy& policy, bool zero, bool same_as_base) {
  if (policy.has_base && same_as_base) return PieceAction::kSkip;
  if (!policy.sparse || !zero) return PieceAction::kWriteData;
  if (policy.fresh_target && !policy.has_base) return PieceAction::kSkip;
  return PieceAction::kWriteZeroes;
}

}  // namespace vessel::storage
