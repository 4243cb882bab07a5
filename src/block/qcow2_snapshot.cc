#include "block/qcow2_snapshot.h"

namespace vessel::block {

using namespace qcow2;

Result<Qcow2SnapshotTable> read_qcow2_snapshots(const HostFile& file, const Qcow2Header& header) {
  Qcow2SnapshotTable table;
  const std::string& path = file.path();
  Geometry g = header.geometry();
  uint64_t pos = header.snapshots_offset;
  for (uint32_t i = 0; i < header.nb_snapshots; ++i) {
    auto corrupt = [&](const std::string& what) {
      return Error(path + ": corrupt qcow2 image: snapshot " + std::to_string(i) + ": " + what);
    };
    // "Snapshot table entry": 40 fixed bytes, then extra data, ID and name.
    uint8_t fixed[kSnapshotEntryFixedSize];
    if (pos - header.snapshots_offset + sizeof(fixed) > kMaxSnapshotTableBytes ||
        pos + sizeof(fixed) > file.size()) {
      return corrupt("the snapshot table runs past the end of the file");
    }
    TRY(file.read(pos, fixed));
    Qcow2Snapshot s;
    s.l1_table_offset = load_be64(fixed + 0);
    s.l1_size = load_be32(fixed + 8);
    uint16_t id_size = load_be16(fixed + 12);
    uint16_t name_size = load_be16(fixed + 14);
    s.vm_state_size = load_be32(fixed + 32);
    uint32_t extra_size = load_be32(fixed + 36);
    if (extra_size > kMaxSnapshotExtraData) {
      return corrupt("extra data of " + std::to_string(extra_size) + " bytes is too large");
    }
    uint64_t variable = uint64_t{extra_size} + id_size + name_size;
    uint64_t entry_size = round_up(sizeof(fixed) + variable, 8);
    if (pos + sizeof(fixed) + variable > file.size()) {
      return corrupt("the snapshot table runs past the end of the file");
    }
    std::vector<uint8_t> rest(variable);
    TRY(file.read(pos + sizeof(fixed), rest));
    if (extra_size >= 8) s.vm_state_size = load_be64(&rest[0]);
    if (extra_size >= 16) s.disk_size = load_be64(&rest[8]);
    // data() rather than &rest[i]: the ID and name may be empty, and so may `rest`.
    const char* strings = reinterpret_cast<const char*>(rest.data()) + extra_size;
    s.id.assign(strings, id_size);
    s.name.assign(strings + id_size, name_size);
    uint64_t l1_bytes = uint64_t{s.l1_size} * 8;
    if (l1_bytes > kMaxL1Bytes) return corrupt("L1 table is too large");
    if (s.l1_size > 0) {
      if (!g.aligned(s.l1_table_offset) || s.l1_table_offset < g.cluster_size() ||
          s.l1_table_offset >= file.size() || l1_bytes > file.size() - s.l1_table_offset) {
        return corrupt("L1 table offset " + std::to_string(s.l1_table_offset) + " is invalid");
      }
    }
    table.snapshots.push_back(std::move(s));
    pos += entry_size;
  }
  table.table_bytes = pos - header.snapshots_offset;
  return table;
}

}  // namespace vessel::block
