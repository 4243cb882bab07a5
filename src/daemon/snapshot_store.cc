#include "daemon/snapshot_store.h"

#include <unistd.h>

#include <algorithm>

#include "base/log.h"
#include "daemon/virt_error.h"

namespace vessel::daemon {

std::string SnapshotStore::file(const std::string& domain, const std::string& name) const {
  return dir_.snapshot_dir(domain) + "/" + name + ".xml";
}

std::string SnapshotStore::current_file(const std::string& domain) const {
  return dir_.snapshot_dir(domain) + "/current";
}

std::vector<SnapshotDef> SnapshotStore::list(const std::string& domain) const {
  std::vector<SnapshotDef> out;
  for (const std::string& name : dir_.snapshot_names(domain)) {
    auto def = load(domain, name);
    if (!def.ok()) {
      LOG_ERROR("%s: %s", file(domain, name).c_str(), def.error().message().c_str());
      continue;
    }
    out.push_back(std::move(*def));
  }
  // Creation order, as libvirt lists them; the name breaks ties in a second.
  std::sort(out.begin(), out.end(), [](const SnapshotDef& a, const SnapshotDef& b) {
    return a.creation_time != b.creation_time ? a.creation_time < b.creation_time : a.name < b.name;
  });
  return out;
}

bool SnapshotStore::exists(const std::string& domain, const std::string& name) const {
  return check_snapshot_name(name).ok() && !name.empty() &&
         ::access(file(domain, name).c_str(), F_OK) == 0;
}

Result<SnapshotDef> SnapshotStore::load(const std::string& domain, const std::string& name) const {
  if (!exists(domain, name)) {
    return virt_error::make(virt_error::kNoDomainSnapshot,
                            "no domain snapshot with matching name '" + name + "'");
  }
  TRY_ASSIGN(std::string text, read_whole_file(file(domain, name)));
  TRY_ASSIGN(SnapshotDef def, parse_snapshot_xml(text));
  if (def.name != name) return Error("names another snapshot");
  return def;
}

Result<void> SnapshotStore::save(const std::string& domain, const SnapshotDef& def) {
  TRY(ensure_directory(dir_.root() + "/snapshots"));
  TRY(ensure_directory(dir_.snapshot_dir(domain)));
  return write_file_atomically(file(domain, def.name), format_snapshot_xml(def));
}

Result<void> SnapshotStore::remove(const std::string& domain, const std::string& name) {
  return remove_file_durably(file(domain, name));
}

Result<void> SnapshotStore::remove_all(const std::string& domain) {
  for (const std::string& name : dir_.snapshot_names(domain)) TRY(remove(domain, name));
  TRY(remove_file_durably(current_file(domain)));
  ::rmdir(dir_.snapshot_dir(domain).c_str());  // gone, or the files above went
  return Ok();
}

std::string SnapshotStore::current(const std::string& domain) const {
  auto text = read_whole_file(current_file(domain));
  if (!text.ok()) return "";
  std::string name = *text;
  while (!name.empty() && name.back() == '\n') name.pop_back();
  return exists(domain, name) ? name : "";
}

Result<void> SnapshotStore::set_current(const std::string& domain, const std::string& name) {
  if (name.empty()) return remove_file_durably(current_file(domain));
  TRY(ensure_directory(dir_.snapshot_dir(domain)));
  return write_file_atomically(current_file(domain), name + "\n");
}

}  // namespace vessel::daemon
