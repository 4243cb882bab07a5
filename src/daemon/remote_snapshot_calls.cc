// The procedures on domain snapshots (remote_nonnull_domain_snapshot: the
// snapshot's name, then its domain), each a call into the SnapshotManager,
// and undefine, which must look at a domain's snapshots first.
#include "daemon/remote_procedure.h"
#include "daemon/snapshot_manager.h"

namespace vessel::daemon {
namespace {

using virt_error::make;

struct SnapshotRef {
  std::string name;
  DomainRef domain;
};

SnapshotRef snapshot_arg(Call& c) {
  SnapshotRef ref;
  ref.name = c.string();
  ref.domain = c.domain();
  return ref;
}

void put_snapshot(Call& c, const std::string& name, const DomainRef& domain) {
  c.reply.string(name);
  c.put(domain);
}

// The domain as clients should see it now (its id changes with a start).
Result<DomainRef> current_ref(Call& c, const DomainRef& ref) {
  return c.daemon.domains.lookup_by_uuid(ref.uuid);
}

// LIST_NAMES / LIST_CHILDREN_NAMES: at most `max` names.
Result<void> put_names(Call& c, std::vector<std::string> names, int32_t max) {
  if (max < 0 || static_cast<uint32_t>(max) > kListMax) {
    return make(virt_error::kRpc, "too many snapshots requested");
  }
  if (names.size() > static_cast<size_t>(max)) names.resize(static_cast<size_t>(max));
  c.reply.u32(static_cast<uint32_t>(names.size()));
  for (const std::string& name : names) c.reply.string(name);
  return Ok();
}

// LIST_ALL_SNAPSHOTS / LIST_ALL_CHILDREN: the array only when asked for, the
// count always.
Result<void> put_all(Call& c, const std::vector<std::string>& names, const DomainRef& domain,
                     bool need_results) {
  if (names.size() > kListMax) return make(virt_error::kRpc, "too many snapshots");
  TRY_ASSIGN(DomainRef now, current_ref(c, domain));
  c.reply.u32(need_results ? static_cast<uint32_t>(names.size()) : 0);
  if (need_results) {
    for (const std::string& name : names) put_snapshot(c, name, now);
  }
  c.reply.i32(static_cast<int32_t>(names.size()));
  return Ok();
}

Handler undefine_domain(bool flagged) {
  return [flagged](Call& c) -> Result<void> {
    DomainRef ref = c.domain();
    unsigned flags = flagged ? c.args.u32() : 0;
    TRY(c.end_args());
    return c.daemon.snapshots.undefine(ref, flags);
  };
}

}  // namespace

const ProcedureTable& snapshot_procedures() {
  static const ProcedureTable table = {
      {185,  // SNAPSHOT_CREATE_XML
       {[](Call& c) -> Result<void> {
         DomainRef ref = c.domain();
         std::string xml = c.string();
         unsigned flags = c.args.u32();
         TRY(c.end_args());
         TRY_ASSIGN(std::string name, c.daemon.snapshots.create(ref, xml, flags));
         TRY_ASSIGN(DomainRef now, current_ref(c, ref));
         put_snapshot(c, name, now);
         return Ok();
       }}},
      {186,  // SNAPSHOT_GET_XML_DESC
       {[](Call& c) -> Result<void> {
          SnapshotRef ref = snapshot_arg(c);
          c.args.u32();
          TRY(c.end_args());
          TRY_ASSIGN(std::string xml, c.daemon.snapshots.xml(ref.domain, ref.name));
          c.reply.string(xml);
          return Ok();
        },
        true}},
      {187,  // SNAPSHOT_NUM
       {[](Call& c) -> Result<void> {
          DomainRef ref = c.domain();
          unsigned flags = c.args.u32();
          TRY(c.end_args());
          TRY_ASSIGN(auto names, c.daemon.snapshots.list(ref, flags));
          c.reply.i32(static_cast<int32_t>(names.size()));
          return Ok();
        },
        true}},
      {188,  // SNAPSHOT_LIST_NAMES
       {[](Call& c) -> Result<void> {
          DomainRef ref = c.domain();
          int32_t max = c.args.i32();
          unsigned flags = c.args.u32();
          TRY(c.end_args());
          TRY_ASSIGN(auto names, c.daemon.snapshots.list(ref, flags));
          return put_names(c, std::move(names), max);
        },
        true}},
      {189,  // SNAPSHOT_LOOKUP_BY_NAME
       {[](Call& c) -> Result<void> {
          DomainRef ref = c.domain();
          std::string name = c.string();
          c.args.u32();
          TRY(c.end_args());
          TRY(c.daemon.snapshots.lookup(ref, name));
          put_snapshot(c, name, ref);
          return Ok();
        },
        true}},
      {190,  // HAS_CURRENT_SNAPSHOT
       {[](Call& c) -> Result<void> {
          DomainRef ref = c.domain();
          c.args.u32();
          TRY(c.end_args());
          TRY_ASSIGN(std::string current, c.daemon.snapshots.current(ref));
          c.reply.i32(current.empty() ? 0 : 1);
          return Ok();
        },
        true}},
      {191,  // SNAPSHOT_CURRENT
       {[](Call& c) -> Result<void> {
          DomainRef ref = c.domain();
          c.args.u32();
          TRY(c.end_args());
          TRY_ASSIGN(std::string current, c.daemon.snapshots.current(ref));
          if (current.empty()) {
            return make(virt_error::kNoDomainSnapshot,
                        "the domain does not have a current snapshot");
          }
          put_snapshot(c, current, ref);
          return Ok();
        },
        true}},
      {192,  // REVERT_TO_SNAPSHOT
       {[](Call& c) -> Result<void> {
         SnapshotRef ref = snapshot_arg(c);
         unsigned flags = c.args.u32();
         TRY(c.end_args());
         return c.daemon.snapshots.revert(ref.domain, ref.name, flags);
       }}},
      {193,  // SNAPSHOT_DELETE
       {[](Call& c) -> Result<void> {
         SnapshotRef ref = snapshot_arg(c);
         unsigned flags = c.args.u32();
         TRY(c.end_args());
         return c.daemon.snapshots.remove(ref.domain, ref.name, flags);
       }}},
      {244,  // SNAPSHOT_GET_PARENT
       {[](Call& c) -> Result<void> {
          SnapshotRef ref = snapshot_arg(c);
          c.args.u32();
          TRY(c.end_args());
          TRY_ASSIGN(std::string parent, c.daemon.snapshots.parent(ref.domain, ref.name));
          put_snapshot(c, parent, ref.domain);
          return Ok();
        },
        true}},
      {246,  // SNAPSHOT_NUM_CHILDREN
       {[](Call& c) -> Result<void> {
          SnapshotRef ref = snapshot_arg(c);
          unsigned flags = c.args.u32();
          TRY(c.end_args());
          TRY_ASSIGN(auto names, c.daemon.snapshots.list(ref.domain, flags, &ref.name));
          c.reply.i32(static_cast<int32_t>(names.size()));
          return Ok();
        },
        true}},
      {247,  // SNAPSHOT_LIST_CHILDREN_NAMES
       {[](Call& c) -> Result<void> {
          SnapshotRef ref = snapshot_arg(c);
          int32_t max = c.args.i32();
          unsigned flags = c.args.u32();
          TRY(c.end_args());
          TRY_ASSIGN(auto names, c.daemon.snapshots.list(ref.domain, flags, &ref.name));
          return put_names(c, std::move(names), max);
        },
        true}},
      {271,  // SNAPSHOT_IS_CURRENT
       {[](Call& c) -> Result<void> {
          SnapshotRef ref = snapshot_arg(c);
          c.args.u32();
          TRY(c.end_args());
          TRY(c.daemon.snapshots.lookup(ref.domain, ref.name));
          TRY_ASSIGN(std::string current, c.daemon.snapshots.current(ref.domain));
          c.reply.i32(current == ref.name ? 1 : 0);
          return Ok();
        },
        true}},
      {272,  // SNAPSHOT_HAS_METADATA: every snapshot Vessel knows has it
       {[](Call& c) -> Result<void> {
          SnapshotRef ref = snapshot_arg(c);
          c.args.u32();
          TRY(c.end_args());
          TRY(c.daemon.snapshots.lookup(ref.domain, ref.name));
          c.reply.i32(1);
          return Ok();
        },
        true}},
      {274,  // LIST_ALL_SNAPSHOTS
       {[](Call& c) -> Result<void> {
          DomainRef ref = c.domain();
          int32_t need_results = c.args.i32();
          unsigned flags = c.args.u32();
          TRY(c.end_args());
          TRY_ASSIGN(auto names, c.daemon.snapshots.list(ref, flags));
          return put_all(c, names, ref, need_results != 0);
        },
        true}},
      {275,  // SNAPSHOT_LIST_ALL_CHILDREN
       {[](Call& c) -> Result<void> {
          SnapshotRef ref = snapshot_arg(c);
          int32_t need_results = c.args.i32();
          unsigned flags = c.args.u32();
          TRY(c.end_args());
          TRY_ASSIGN(auto names, c.daemon.snapshots.list(ref.domain, flags, &ref.name));
          return put_all(c, names, ref.domain, need_results != 0);
        },
        true}},
      {35, {undefine_domain(false)}},  // UNDEFINE
      {231, {undefine_domain(true)}},  // UNDEFINE_FLAGS
  };
  return table;
}

}  // namespace vessel::daemon
