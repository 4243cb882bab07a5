// The human monitor (QEMU's HMP) as QMP's human-monitor-command reaches it:
// a command line in, the text QEMU's monitor would print out (lines ending
// in "\r\n", as QEMU returns them). The commands are those of VM snapshots
// (vm_snapshot.h) — savevm [tag], loadvm tag, delvm tag, info snapshots —
// and info status; anything else gets QEMU's "unknown command" line.
// Arguments are parsed as QEMU's monitor does (words, or "quoted strings"
// with backslash escapes), with its messages for missing or extra ones.
#pragma once

#include <string>
#include <string_view>

#include "vmm/vm.h"
#include "vmm/vm_snapshot.h"

namespace vessel::vmm {

class HumanMonitor {
 public:
  // `event` hears the VM pause and resume around savevm and loadvm.
  HumanMonitor(Vm& vm, RunStateEvent event) : vm_(vm), event_(std::move(event)) {}

  std::string execute(std::string_view command_line);

 private:
  struct Command;
  static const Command kCommands[];
  static const Command kInfoCommands[];

  std::string savevm(const std::string& tag);
  std::string loadvm(const std::string& tag);
  std::string delvm(const std::string& tag);
  std::string info_snapshots(const std::string& unused);
  std::string info_status(const std::string& unused);

  Vm& vm_;
  RunStateEvent event_;
};

}  // namespace vessel::vmm
