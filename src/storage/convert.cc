#include "storage/convert.h"

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <vector>

#include "block/aligned_buffer.h"
#include "storage/convert_piece.h"
#include "storage/image_values.h"
#include "storage/parallel.h"

namespace vessel::storage {

Result<void> convert_copy(const ConvertCopy& copy, const ProgressFn& progress) {
  OpenedImage& dst = copy.target;
  block::BlockBackend* base = copy.base;
  const uint64_t size = copy.size;
  const uint32_t cluster = copy.cluster;
  const uint64_t sparse = copy.sparse;
  const bool compress = copy.compress == Compression::kCompressed;
  const bool no_create = copy.target_state == TargetState::kExisting;
  // Work in whole output clusters so compression sees one cluster at a time.
  const uint64_t unit = sparse == 0 ? 4096 : std::min<uint64_t>(sparse, cluster);
  const uint64_t step = std::max<uint64_t>(cluster, uint64_t{1} << 20) / cluster * cluster;
  // Steps are copied by several threads (below); without -c their writes
  // still go out in order, so that the output's clusters follow the guest
  // order as they do with qemu-img (without -W).
  std::mutex turn_mu;
  std::condition_variable turn_cv;
  uint64_t turn = 0;  // the step whose writes may go out now
  bool stopped = false;
  auto wait_turn = [&](uint64_t i) -> bool {
    std::unique_lock<std::mutex> lock(turn_mu);
    turn_cv.wait(lock, [&] { return turn == i || stopped; });
    return !stopped;
  };
  auto end_turn = [&](bool ok) {
    {
      std::lock_guard<std::mutex> lock(turn_mu);
      if (ok) {
        ++turn;
      } else {
        stopped = true;
      }
    }
    turn_cv.notify_all();
  };
  const PiecePolicy policy{
      .fresh_target = !no_create, .has_base = base != nullptr, .sparse = sparse != 0};
  // Carries out `action` for [offset, offset + piece.size()) of the target.
  auto apply = [&](PieceAction action, uint64_t offset,
                   std::span<const uint8_t> piece) -> Result<void> {
    switch (action) {
      case PieceAction::kSkip:
        return Ok();
      case PieceAction::kWriteZeroes:
        return dst.backend->write_zeroes(offset, piece.size(), block::ZeroMode::kDeallocate);
      case PieceAction::kWriteData:
        return compress ? dst.qcow2->write_compressed(offset, piece)
                        : dst.backend->write(offset, piece);
    }
    return Ok();
  };
  // Copies step `i` through `buf` (and `base_buf` for -B).
  auto copy_step = [&](uint64_t i, std::span<uint8_t> buf,
                       std::span<uint8_t> base_buf) -> Result<void> {
    const uint64_t offset = i * step;
    const uint64_t len = std::min(step, size - offset);
    std::span<uint8_t> data = buf.first(len);
    // A hole in the source needs no reading; without a base to compare it
    // to, the whole step is one zero piece.
    TRY_ASSIGN(bool hole, copy.source.known_zero(offset, len));
    if (hole && base == nullptr) {
      PieceAction action = piece_action(policy, /*zero=*/true, /*same_as_base=*/false);
      if (action != PieceAction::kWriteData) {
        // Without -c the turns keep the writes in step order.
        if (!compress && !wait_turn(i)) return Ok();
        return apply(action, offset, data);
      }
    }
    if (hole) {
      std::fill(data.begin(), data.end(), 0);
    } else {
      TRY(copy.source.read(offset, data));
    }
    std::span<uint8_t> base_data;
    if (base != nullptr) {
      base_data = base_buf.first(len);
      std::fill(base_data.begin(), base_data.end(), 0);
      uint64_t base_size = base->size();
      if (offset < base_size) {
        TRY(base->read(offset, base_data.subspan(0, std::min(len, base_size - offset))));
      }
    }
    // -c decides per output cluster (each is compressed on its own), the
    // plain path per sparse unit; runs of units with the same action go out
    // as one request.
    const uint64_t piece_size = compress ? cluster : unit;
    auto action_at = [&](uint64_t at) {
      std::span<const uint8_t> piece = data.subspan(at, std::min(piece_size, len - at));
      bool same_as_base =
          base != nullptr &&
          std::equal(piece.begin(), piece.end(), base_data.begin() + static_cast<ptrdiff_t>(at));
      return piece_action(policy, is_zero(piece), same_as_base);
    };
    if (compress) {
      for (uint64_t c = 0; c < len; c += cluster) {
        TRY(apply(action_at(c), offset + c, data.subspan(c, std::min<uint64_t>(cluster, len - c))));
      }
      return Ok();
    }
    if (!wait_turn(i)) return Ok();  // an earlier step failed and reports it
    uint64_t run_start = 0;
    PieceAction run_action = action_at(0);
    for (uint64_t u = unit;; u += unit) {
      const bool end = u >= len;  // the last unit may be short
      PieceAction next = end ? PieceAction::kSkip : action_at(u);
      if (!end && next == run_action) continue;
      uint64_t run_end = std::min(u, len);
      TRY(apply(run_action, offset + run_start, data.subspan(run_start, run_end - run_start)));
      if (end) return Ok();
      run_start = u;
      run_action = next;
    }
  };

  // As many threads as qemu-img's default number of parallel requests
  // (-m 8) for -c: compression is the costly part, and write_compressed()
  // compresses outside the image's lock. Without -c, reading the next steps
  // overlaps writing this one.
  const uint64_t steps = (size + step - 1) / step;
  const size_t workers = static_cast<size_t>(std::min<uint64_t>(steps, compress ? 8 : 4));
  // Aligned, so that with O_DIRECT (-t/-T none, directsync) whole-cluster
  // requests go straight to the files.
  std::vector<block::AlignedBuffer> bufs;
  std::vector<block::AlignedBuffer> base_bufs;
  for (size_t w = 0; w < workers; ++w) {
    bufs.emplace_back(step);
    base_bufs.emplace_back(base != nullptr ? step : 0);
  }
  if (progress) progress(0, size);
  std::mutex progress_mu;
  uint64_t copied = 0;
  return for_each_parallel(steps, workers, [&](uint64_t i, size_t worker) -> Result<void> {
    uint64_t offset = i * step;
    Result<void> copied_step = copy_step(i, bufs[worker].span(), base_bufs[worker].span());
    if (!compress) end_turn(copied_step.ok());
    TRY(copied_step);
    std::lock_guard<std::mutex> lock(progress_mu);
    copied += std::min(step, size - offset);
    if (progress) progress(copied, size);
    return Ok();
  });
}

}  // namespace vessel::storage
