#include "block/qcow2_snapshot.h"

#include <algorithm>

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
    s.date_sec = load_be32(fixed + 16);
    s.date_nsec = load_be32(fixed + 20);
    s.vm_clock_nsec = load_be64(fixed + 24);
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
    // "Extra data": vm_state_size_large, disk_size, icount, each optional.
    s.extra_data_size = extra_size;
    if (extra_size >= 8) s.vm_state_size = load_be64(&rest[0]);
    s.disk_size = extra_size >= 16 ? load_be64(&rest[8]) : header.size;
    if (extra_size >= 24) s.icount = static_cast<int64_t>(load_be64(&rest[16]));
    if (extra_size > kSnapshotKnownExtraData) {
      s.unknown_extra.assign(rest.begin() + kSnapshotKnownExtraData, rest.begin() + extra_size);
    }
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

Result<std::vector<uint8_t>> encode_qcow2_snapshots(const std::vector<Qcow2Snapshot>& snapshots) {
  std::vector<uint8_t> out;
  for (const Qcow2Snapshot& s : snapshots) {
    if (s.id.size() > UINT16_MAX || s.name.size() > UINT16_MAX) {
      return Error("snapshot ID or name is longer than 65535 bytes");
    }
    uint64_t extra_size = kSnapshotKnownExtraData + s.unknown_extra.size();
    uint64_t pos = round_up(out.size(), 8);
    uint64_t end = pos + kSnapshotEntryFixedSize + extra_size + s.id.size() + s.name.size();
    if (end > kMaxSnapshotTableBytes) return Error("the snapshot table would be too large");
    out.resize(end, 0);
    uint8_t* p = &out[pos];
    store_be64(p + 0, s.l1_table_offset);
    store_be32(p + 8, s.l1_size);
    store_be16(p + 12, static_cast<uint16_t>(s.id.size()));
    store_be16(p + 14, static_cast<uint16_t>(s.name.size()));
    store_be32(p + 16, s.date_sec);
    store_be32(p + 20, s.date_nsec);
    store_be64(p + 24, s.vm_clock_nsec);
    // A VM state too large for 32 bits reads as none to older readers
    // rather than as a truncated one.
    store_be32(p + 32, s.vm_state_size <= UINT32_MAX ? static_cast<uint32_t>(s.vm_state_size) : 0);
    store_be32(p + 36, static_cast<uint32_t>(extra_size));
    p += kSnapshotEntryFixedSize;
    store_be64(p + 0, s.vm_state_size);
    store_be64(p + 8, s.disk_size);
    store_be64(p + 16, static_cast<uint64_t>(s.icount));
    p = std::copy(s.unknown_extra.begin(), s.unknown_extra.end(), p + kSnapshotKnownExtraData);
    p = std::copy(s.id.begin(), s.id.end(), p);
    std::copy(s.name.begin(), s.name.end(), p);
  }
  return out;
}

}  // namespace vessel::block
