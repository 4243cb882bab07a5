#include "block/qcow2_snapshot_text.h"

#include <cstdio>
#include <ctime>

#include "base/size_text.h"

namespace vessel::block {

std::string snapshot_table_header() {
  char line[128];
  std::snprintf(line, sizeof line, "%-10s%-17s%8s%20s%13s%11s", "ID", "TAG", "VM SIZE", "DATE",
                "VM CLOCK", "ICOUNT");
  return line;
}

std::string snapshot_table_row(const Qcow2Snapshot& s, std::string_view id) {
  time_t date = s.date_sec;
  struct tm local {};
  localtime_r(&date, &local);
  char date_text[64];
  std::strftime(date_text, sizeof date_text, "%Y-%m-%d %H:%M:%S", &local);
  uint64_t secs = s.vm_clock_nsec / 1000000000;
  char clock_text[64];
  std::snprintf(clock_text, sizeof clock_text, "%02d:%02d:%02d.%03d", static_cast<int>(secs / 3600),
                static_cast<int>((secs / 60) % 60), static_cast<int>(secs % 60),
                static_cast<int>((s.vm_clock_nsec / 1000000) % 1000));
  std::string icount = s.icount == -1 ? "" : std::to_string(s.icount);
  // "%-9s %-16s %8s%20s%13s%11s", with IDs and names of any length.
  std::string out = std::string(id) + std::string(id.size() < 9 ? 9 - id.size() : 0, ' ') + " " +
                    s.name + std::string(s.name.size() < 16 ? 16 - s.name.size() : 0, ' ') + " ";
  char rest[256];
  std::snprintf(rest, sizeof rest, "%8s%20s%13s%11s", human_size(s.vm_state_size).c_str(),
                date_text, clock_text, icount.c_str());
  return out + rest;
}

}  // namespace vessel::block
