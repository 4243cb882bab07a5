#include "cli/img_image_spec.h"

#include <cstdio>
#include <utility>

namespace vessel::cli::img {
namespace {

// "help" in a --object list: the options of a secret, as qemu lists them.
void print_secret_help() {
  std::printf(
      "secret options:\n"
      "  data=<string>\n"
      "  file=<string>\n"
      "  format=<QCryptoSecretFormat>\n"
      "  iv=<string>\n"
      "  keyid=<string>\n");
}

// What "--object help" and "--object secret,help" print.
void print_object_help(storage::ObjectHelp help) {
  if (help == storage::ObjectHelp::kSecretOptions) {
    print_secret_help();
  } else {
    std::printf("List of user creatable objects:\n  secret\n");
  }
}

}  // namespace

Result<ImageArgs> ImageArgs::from(const ParsedArgs& parsed, const std::string& format) {
  ImageArgs args;
  args.image_opts_ = parsed.image_opts;
  args.format_ = format;
  for (const std::string& object : parsed.objects) {
    TRY_ASSIGN(storage::ObjectHelp help, storage::add_image_object(object, args.secrets_));
    if (help != storage::ObjectHelp::kNone) {
      print_object_help(help);
      args.help_printed_ = true;
      return args;
    }
  }
  return args;
}

void print_image_args_help(unsigned flags) {
  if ((flags & kImageOpts) != 0) {
    std::printf(
        "\n"
        "Image names, as qemu-img reads them: FILE; file:FILE; json:{...} with qemu's\n"
        "block options, nested or flattened: json:{\"driver\":\"qcow2\",\"file\":{\"filename\":\n"
        "\"FILE\"}} or json:{\"file.filename\":\"FILE\"} (-f overrides \"driver\").\n"
        "  --image-opts    image names are option lists instead:\n"
        "                  driver=qcow2,file.filename=FILE (',,' for a comma; no -f)\n"
        "Drivers: raw and qcow2 over the 'file' protocol. Options besides the file\n"
        "name: read-only, cache.direct, cache.no-flush, force-share, node-name,\n"
        "discard, detect-zeroes=off, file.locking, file.aio=threads; qcow2:\n"
        "l2-cache-size, \"backing\": null (json:), and qemu's cache and overlap-check\n"
        "tuning (accepted, no effect).\n");
  }
  if ((flags & kObject) != 0) {
    std::printf(
        "  --object secret,id=ID,data=DATA|file=PATH[,format=raw|base64]\n"
        "                  a secret, checked as qemu-img checks it (vessel img does not\n"
        "                  open encrypted images, so none is used); other object\n"
        "                  types are refused\n");
  }
}

std::optional<ImageArgs> take_image_args(const ParsedArgs& parsed, const std::string& format,
                                         int& status) {
  auto args = ImageArgs::from(parsed, format);
  if (!args) {
    status = fail(args.error().message());
    return std::nullopt;
  }
  if (args->help_printed()) {
    status = 0;
    return std::nullopt;
  }
  return std::move(*args);
}

Result<ImageSpec> ImageArgs::spec(const std::string& name, const std::string& format) const {
  return spec(name, format, image_opts_ ? ImageNameSyntax::kImageOpts : ImageNameSyntax::kName);
}

Result<ImageSpec> ImageArgs::spec(const std::string& name, const std::string& format,
                                  ImageNameSyntax syntax) const {
  return storage::parse_image_name(name, format, syntax, warn);
}

}  // namespace vessel::cli::img
