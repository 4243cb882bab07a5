// How images are named, in every spelling qemu-img takes: a file name,
// "file:PATH", "json:{...}" (nested or flattened "file.filename" keys) and,
// as an option list (qemu-img's --image-opts), "driver=qcow2,file.filename=
// PATH" (",," for a comma in a value); and qemu's object definitions (only
// "secret" exists here, for qemu-img's command lines that carry one).
// Every spelling is read into qemu's flat block options and checked in one
// place; the errors are qemu-img's, after "Could not open 'NAME': ".
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "storage/image_open.h"

namespace vessel::storage {

// One image, as an operation opens it.
struct ImageSpec {
  std::string name;    // as the user gave it (qemu-img quotes it in errors)
  std::string path;    // the image file
  std::string format;  // "raw" or "qcow2"; empty: probed
  bool read_only = false;
  // cache.direct and cache.no-flush, when given: they override the
  // operation's cache mode.
  std::optional<bool> cache_direct = std::nullopt;
  std::optional<bool> cache_no_flush = std::nullopt;
  uint64_t l2_cache_bytes = 0;  // 0: the default
  bool no_backing = false;      // "backing": null
  // The operation's cache mode with the options above applied.
  CacheMode cache(CacheMode mode) const;
};

// A secret from --object secret,id=ID,data=DATA|file=PATH[,format=raw|base64].
struct ImageSecret {
  std::string id;
  std::string value;  // decoded
};

// How a name is read: a file name (or "file:", "json:" name), or an option
// list.
enum class ImageNameSyntax : uint8_t { kName, kImageOpts };

// The image `name` names, read in `syntax`; `format` ("raw", "qcow2" or
// empty) overrides the driver the name gives. `warn` hears of deprecated
// spellings.
Result<ImageSpec> parse_image_name(const std::string& name, const std::string& format,
                                   ImageNameSyntax syntax, const Warn& warn);

// What an object definition asked for instead of defining one: the list of
// object types, or a secret's options.
enum class ObjectHelp : uint8_t { kNone, kTypes, kSecretOptions };

// One object definition (keyval "TYPE,id=ID,..." or a JSON object), added to
// `secrets`; or, when it asks for help, nothing added and which help.
Result<ObjectHelp> add_image_object(std::string_view text, std::vector<ImageSecret>& secrets);

// Opens the image `spec` names (see open_image in image_open.h).
Result<OpenedImage> open_image(const ImageSpec& spec, bool writable, CacheMode cache = {},
                               const SnapshotRef& snapshot = {});

}  // namespace vessel::storage
