#include "vmm/image_info.h"

#include "block/qcow2.h"
#include "block/raw_file.h"

namespace vessel::vmm {
namespace {

// SnapshotInfo, for the "snapshots" of an image that has internal snapshots.
Json snapshot_info(const block::Qcow2Snapshot& s) {
  Json info = {{"id", s.id},
               {"name", s.name},
               {"vm-state-size", s.vm_state_size},
               {"date-sec", s.date_sec},
               {"date-nsec", s.date_nsec},
               {"vm-clock-sec", s.vm_clock_nsec / 1'000'000'000},
               {"vm-clock-nsec", s.vm_clock_nsec % 1'000'000'000}};
  if (s.icount != -1) info["icount"] = s.icount;
  return info;
}

}  // namespace

Json image_info(const block::BlockBackend& image) {
  if (const auto* raw = dynamic_cast<const block::RawFile*>(&image)) {
    return {{"filename", raw->path()}, {"format", "raw"}, {"virtual-size", raw->size()}};
  }
  const auto* q = dynamic_cast<const block::Qcow2Image*>(&image);
  if (q == nullptr) return {{"virtual-size", image.size()}};
  Json info = {{"filename", q->path()},
               {"format", "qcow2"},
               {"virtual-size", q->size()},
               {"cluster-size", q->info().cluster_size},
               {"dirty-flag", false}};
  if (!q->info().backing_file.empty()) {
    info["backing-filename"] = q->info().backing_file;
    info["full-backing-filename"] = block::resolve_backing_path(q->path(), q->info().backing_file);
    if (!q->info().backing_format.empty()) {
      info["backing-filename-format"] = q->info().backing_format;
    }
  }
  if (!q->snapshots().empty()) {
    Json list = Json::array();
    for (const block::Qcow2Snapshot& s : q->snapshots()) list.push_back(snapshot_info(s));
    info["snapshots"] = list;
  }
  if (q->backing() != nullptr) info["backing-image"] = image_info(*q->backing());
  return info;
}

int backing_depth(const block::BlockBackend& image) {
  const auto* q = dynamic_cast<const block::Qcow2Image*>(&image);
  return q != nullptr && q->backing() != nullptr ? 1 + backing_depth(*q->backing()) : 0;
}

}  // namespace vessel::vmm
