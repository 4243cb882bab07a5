// vessel img snapshot: list, create, apply and delete the internal snapshots
// of a qcow2 image, like qemu-img snapshot (same output, same lookups: -a by
// ID then name, -d by name only).
#include <cstdio>

#include "cli/img_common.h"
#include "cli/img_image_spec.h"
#include "cli/img_verbs.h"
#include "storage/snapshot.h"

namespace vessel::cli::img {
namespace {

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

using Action = storage::SnapshotAction;

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
  if (force_share && action != Action::kList) {
    return fail(spec->path + ": force-share=on can only be used with read-only images");
  }
  auto list = storage::run_snapshot({std::move(*spec), action, snapshot});
  if (!list) return fail(list.error().message());
  if (!list->empty()) std::fputs(snapshot_list_text(*list).c_str(), stdout);
  return 0;
}

}  // namespace vessel::cli::img
