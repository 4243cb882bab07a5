#include "daemon/vm_command.h"

namespace vessel::daemon {

Result<std::vector<std::string>> vm_command(const DomainDef& def, const VmPaths& paths,
                                            const NetworkNic& network_nic) {
  std::vector<std::string> argv = {paths.vessel, "run"};
  auto add = [&](const char* option, const std::string& value) {
    argv.push_back(option);
    argv.push_back(value);
  };
  add("--memory", def.memory_kib % 1024 == 0 ? std::to_string(def.memory_kib / 1024) + "M"
                                             : std::to_string(def.memory_kib) + "K");
  add("--smp", std::to_string(def.vcpus));
  if (!def.loader.empty()) add("--firmware", def.loader);
  if (!def.kernel.empty()) add("--kernel", def.kernel);
  if (!def.initrd.empty()) add("--initrd", def.initrd);
  if (!def.cmdline.empty()) add("--append", def.cmdline);
  for (const DiskDef& disk : def.disks) {
    add("--disk", disk.path + ",format=" + disk.format + (disk.readonly ? ",readonly" : ""));
  }
  for (const InterfaceDef& nic : def.interfaces) {
    switch (nic.type) {
      case InterfaceDef::Type::kUser:
        add("--nic", "user,mac=" + nic.mac);
        break;
      case InterfaceDef::Type::kBridge:
        add("--nic", "bridge,br=" + nic.source + ",mac=" + nic.mac);
        break;
      case InterfaceDef::Type::kNetwork: {
        TRY_ASSIGN(std::string option, network_nic(nic.source, nic.mac));
        add("--nic", option);
        break;
      }
    }
  }
  // A guest's reboot resets the VM in place; on_reboot=destroy ends it.
  if (def.on_reboot == LifecycleAction::kDestroy) argv.push_back("--no-reboot");
  add("--serial", "unix:" + paths.serial_socket +
                      ",server=on,wait=off,logfile=" + paths.console_log + ",logappend=on");
  if (!paths.incoming.empty()) add("--incoming", paths.incoming);
  if (!paths.loadvm.empty()) add("--loadvm", paths.loadvm);
  add("--qmp", "unix:" + paths.control_socket + ",server,wait=off");
  return argv;
}

}  // namespace vessel::daemon
