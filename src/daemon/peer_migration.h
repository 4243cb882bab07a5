// virsh migrate --p2p: the client asks the source daemon alone (PERFORM3
// with the destination's URI), and the source daemon runs the steps a
// client runs in a normal migration itself, talking to the destination
// daemon as a client: begin here, prepare there, perform here, finish
// there, confirm here. A failure at any step leaves the VM running here.
#pragma once

#include <string>

#include "base/result.h"
#include "daemon/domain_manager.h"

namespace vessel::daemon {

struct PeerMigration {
  std::string destination_uri;  // a local URI (socket_paths.h)
  std::string name;             // --dname: the domain's name there, if not empty
  std::string migrate_uri;      // --migrateuri: where the VM state goes, if not empty
  unsigned flags = 0;           // virDomainMigrateFlags, passed on
};

Result<void> migrate_to_peer(DomainManager& domains, const DomainRef& ref,
                             const PeerMigration& request);

}  // namespace vessel::daemon
