// vessel img snapshot: list, create, apply and delete the internal snapshots
// of a qcow2 image, like qemu-img snapshot (same output, same lookups: -a by
// ID then name, -d by name only).
#include <cstdio>

#include "cli/img_common.h"
#include "cli/img_image_spec.h"
#include "cli/img_verbs.h"

namespace vessel::cli::img {
namespace {

// qemu-img keeps at most this much of a new snapshot's name (QEMUSnapshotInfo.name).
constexpr size_t kMaxNewNameBytes = 255;

void print_help() {
  std::printf(
      "Usage: vessel img snapshot [-q] [-f fmt] [-l | -a snapshot | -c snapshot | -d snapshot] "
      "[-U] filename\n"
      "\n"
      "Lists, creates, applies or deletes the internal snapshots of a qcow2 image,\n"
      "like qemu-img snapshot. Without an action the image is only opened.\n"
      "\n"
      "Options:\n"
      "  -l                list the snapshots\n"
      "  -c snapshot       create a snapshot of the disk as it is now, with this name\n"
      "                    (the next numeric ID; names are not required to be unique)\n"
      "  -a snapshot       apply the snapshot with this ID, or else this name: the disk\n"
      "                    becomes what it was (contents and size)\n"
      "  -d snapshot       delete the first snapshot with this name\n"
      "  -f fmt            raw or qcow2 (probed when absent); raw images have no\n"
      "                    snapshots\n"
      "  -U, --force-share only with -l (images are never locked)\n"
      "  -q                quiet\n"
      "  -h, --help        show this help\n"
      "\n"
      "Exit status: 0 on success, 1 on any error.\n");
  print_image_args_help(kImageArgs);
}

enum class Action { kNone, kList, kApply, kCreate, kDelete };

}  // namespace

int snapshot_verb(std::span<const std::string_view> args) {
  enum { kList, kApply, kCreate, kDelete, kFormat, kQuiet, kShare, kShareLong, kHelp, kHelpLong };
  const ImgOption specs[] = {{'l', "", false},  {'a', "", true},           {'c', "", true},
                             {'d', "", true},   {'f', "", true},           {'q', "", false},
                             {'U', "", false},  {0, "force-share", false}, {'h', "", false},
                             {0, "help", false}};
  auto parsed = parse_img_args(args, specs, "snapshot", kImageArgs);
  if (!parsed) return fail(parsed.error().message());
  Action action = Action::kNone;
  std::string snapshot, format;
  bool force_share = false;
  for (const auto& [index, value] : parsed->options) {
    Action chosen = Action::kNone;
    switch (index) {
      case kList:
        chosen = Action::kList;
        break;
      case kApply:
        chosen = Action::kApply;
        break;
      case kCreate:
        chosen = Action::kCreate;
        break;
      case kDelete:
        chosen = Action::kDelete;
        break;
      case kFormat: {
        if (!take_format_option(value, format)) return kExitError;
        break;
      }
      case kShare:
      case kShareLong:
        force_share = true;
        break;
      case kHelp:
      case kHelpLong:
        print_help();
        return 0;
      default:
        break;
    }
    if (chosen == Action::kNone) continue;
    if (action != Action::kNone) return fail("Cannot mix '-l', '-a', '-c', '-d'");
    action = chosen;
    snapshot = value;
  }
  if (parsed->positional.size() != 1) {
    return fail("Expecting one image file name (see 'vessel img snapshot --help')");
  }
  int status = 0;
  auto image_args = take_image_args(*parsed, format, status);
  if (!image_args) return status;
  auto spec = image_args->spec(parsed->positional[0]);
  if (!spec) return fail(spec.error().message());
  const std::string& path = spec->path;
  const bool writable = action != Action::kList;
  if (force_share && writable) {
    return fail(path + ": force-share=on can only be used with read-only images");
  }
  auto image = open_image(*spec, writable);
  if (!image) return fail(image.error().message());
  block::Qcow2Image* q = image->qcow2;
  auto refuse = [&](const std::string& verb) {
    return fail(path + ": Could not " + verb + " snapshot '" + snapshot +
                "': raw images have no snapshots");
  };

  switch (action) {
    case Action::kNone:
      break;
    case Action::kList:
      if (q != nullptr && !q->snapshots().empty()) {
        std::fputs(snapshot_list_text(q->snapshots()).c_str(), stdout);
      }
      break;
    case Action::kCreate: {
      if (q == nullptr) return refuse("create");
      std::string name = snapshot.substr(0, kMaxNewNameBytes);
      auto id = q->create_snapshot(name);
      if (!id) return fail(id.error().message());
      break;
    }
    case Action::kApply: {
      if (q == nullptr) return refuse("apply");
      auto index = q->find_snapshot(snapshot);
      if (!index) {
        return fail(path + ": Could not apply snapshot '" + snapshot + "': snapshot not found");
      }
      if (auto r = q->apply_snapshot(*index); !r.ok()) return fail(r.error().message());
      break;
    }
    case Action::kDelete: {
      if (q == nullptr) return refuse("delete");
      // qemu-img snapshot -d matches names only, the first one that fits.
      const auto& list = q->snapshots();
      size_t index = 0;
      while (index < list.size() && list[index].name != snapshot) ++index;
      if (index == list.size()) {
        return fail(path + ": Could not delete snapshot '" + snapshot + "': snapshot not found");
      }
      if (auto r = q->delete_snapshot(index); !r.ok()) return fail(r.error().message());
      break;
    }
  }
  auto closed = q != nullptr ? q->close() : Ok();
  if (!closed.ok()) return fail(closed.error().message());
  return 0;
}

}  // namespace vessel::cli::img
