#include "storage/image_spec.h"

#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>

#include "storage/image_values.h"

namespace vessel::storage {
namespace {

// qemu's block options, flattened: "file.filename" for {"file": {"filename":
// ...}}; each value a string (JSON true/false become on/off, numbers their
// text), or nullopt for a JSON null. The last of a repeated key counts.
using Options = std::map<std::string, std::optional<std::string>>;

// Every block driver qemu-img 7.2 knows ("Supported formats" of its --help);
// a name not here is qemu's "Unknown driver". Of the protocol drivers only
// "file" is implemented here.
constexpr std::string_view kQemuDrivers[] = {"blkdebug",
                                             "blklogwrites",
                                             "blkverify",
                                             "bochs",
                                             "cloop",
                                             "compress",
                                             "copy-before-write",
                                             "copy-on-read",
                                             "dmg",
                                             "file",
                                             "ftp",
                                             "ftps",
                                             "gluster",
                                             "host_cdrom",
                                             "host_device",
                                             "http",
                                             "https",
                                             "iscsi",
                                             "iser",
                                             "luks",
                                             "nbd",
                                             "nfs",
                                             "null-aio",
                                             "null-co",
                                             "nvme",
                                             "parallels",
                                             "preallocate",
                                             "qcow",
                                             "qcow2",
                                             "qed",
                                             "quorum",
                                             "raw",
                                             "rbd",
                                             "replication",
                                             "snapshot-access",
                                             "ssh",
                                             "throttle",
                                             "vdi",
                                             "vhdx",
                                             "vmdk",
                                             "vpc",
                                             "vvfat"};
// Those of them that are protocols: what "PROTOCOL:rest" names.
constexpr std::string_view kQemuProtocols[] = {
    "file", "ftp", "ftps", "gluster",  "host_cdrom", "host_device", "http", "https", "iscsi",
    "iser", "nbd", "nfs",  "null-aio", "null-co",    "nvme",        "rbd",  "ssh",   "vvfat"};

bool is_one_of(std::string_view name, std::span<const std::string_view> names) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

// The ObjectType enum of qemu 7.2's QAPI schema (qapi/qom.json): the types
// --object knows by name. Only "secret" exists here.
constexpr std::string_view kQemuObjectTypes[] = {"authz-list",
                                                 "authz-listfile",
                                                 "authz-pam",
                                                 "authz-simple",
                                                 "can-bus",
                                                 "can-host-socketcan",
                                                 "colo-compare",
                                                 "cryptodev-backend",
                                                 "cryptodev-backend-builtin",
                                                 "cryptodev-backend-lkcf",
                                                 "cryptodev-vhost-user",
                                                 "dbus-vmstate",
                                                 "filter-buffer",
                                                 "filter-dump",
                                                 "filter-mirror",
                                                 "filter-redirector",
                                                 "filter-replay",
                                                 "filter-rewriter",
                                                 "input-barrier",
                                                 "input-linux",
                                                 "iothread",
                                                 "main-loop",
                                                 "memory-backend-epc",
                                                 "memory-backend-file",
                                                 "memory-backend-memfd",
                                                 "memory-backend-ram",
                                                 "pef-guest",
                                                 "pr-manager-helper",
                                                 "qtest",
                                                 "rng-builtin",
                                                 "rng-egd",
                                                 "rng-random",
                                                 "secret",
                                                 "secret_keyring",
                                                 "sev-guest",
                                                 "thread-context",
                                                 "s390-pv-guest",
                                                 "throttle-group",
                                                 "tls-creds-anon",
                                                 "tls-creds-psk",
                                                 "tls-creds-x509",
                                                 "tls-cipher-suites",
                                                 "x-remote-object"};

// qemu's get_opt_value(): a value up to the next lone ',' (",," is a comma).
std::string opt_value(std::string_view text, size_t& pos) {
  std::string value;
  while (pos < text.size()) {
    if (text[pos] == ',') {
      if (pos + 1 < text.size() && text[pos + 1] == ',') {
        value += ',';
        pos += 2;
        continue;
      }
      break;
    }
    value += text[pos++];
  }
  return value;
}

// "key=value,key=value" as qemu_opts_parse() reads --image-opts: an item of
// the first without '=' is the value of `implied` ("file"); a later one is
// a short-form boolean ("read-only" for read-only=on, "noX" for X=off), as
// qemu, with its deprecation warning.
std::vector<std::pair<std::string, std::string>> parse_opts_list(std::string_view text,
                                                                 std::string_view implied,
                                                                 const Warn& warn) {
  std::vector<std::pair<std::string, std::string>> items;
  size_t pos = 0;
  bool first = true;
  while (pos < text.size()) {
    size_t name_end = text.find_first_of("=,", pos);
    if (name_end == std::string_view::npos) name_end = text.size();
    if (first && !implied.empty() && name_end > pos &&
        (name_end == text.size() || text[name_end] != '=')) {
      items.emplace_back(std::string(implied), opt_value(text, pos));
    } else if (name_end == text.size() || text[name_end] == ',') {
      std::string name(text.substr(pos, name_end - pos));
      pos = name_end;
      std::string value = "on";
      if (name.starts_with("no")) {
        name = name.substr(2);
        value = "off";
      }
      if (!name.empty() && warn) {
        warn("short-form boolean option '" + name + "' deprecated\nPlease use " + name + "=" +
             value + " instead");
      }
      items.emplace_back(std::move(name), std::move(value));
    } else {
      std::string name(text.substr(pos, name_end - pos));
      pos = name_end + 1;
      items.emplace_back(std::move(name), opt_value(text, pos));
    }
    first = false;
    if (pos < text.size()) ++pos;  // the ',' after the item
  }
  return items;
}

// qemu's qdict_flatten(): nested objects become dotted keys, list items
// ".0", ".1"; an empty object stays a key of its own.
void flatten(const nlohmann::json& value, const std::string& key, Options& out) {
  if (value.is_object() && !value.empty()) {
    for (const auto& [k, v] : value.items()) flatten(v, key.empty() ? k : key + "." + k, out);
  } else if (value.is_array() && !value.empty()) {
    for (size_t i = 0; i < value.size(); ++i) flatten(value[i], key + "." + std::to_string(i), out);
  } else if (value.is_null()) {
    out[key] = std::nullopt;
  } else if (value.is_string()) {
    out[key] = value.get<std::string>();
  } else if (value.is_boolean()) {
    out[key] = value.get<bool>() ? "on" : "off";
  } else if (value.is_number()) {
    out[key] = value.dump();
  } else {
    out[key] = value.dump();  // an empty object or list
  }
}

// The message of a JSON parse error without the library's tag.
std::string json_error(const nlohmann::json::parse_error& e) {
  std::string what = e.what();
  if (size_t tag = what.find("] ");
      what.starts_with("[json.exception") && tag != std::string::npos) {
    what = what.substr(tag + 2);
  }
  return what;
}

// qemu's path_has_protocol(): a ':' before any '/' makes "PROTOCOL:rest".
std::optional<std::string> protocol_of(std::string_view name) {
  size_t p = name.find_first_of(":/");
  if (p == std::string_view::npos || name[p] != ':') return std::nullopt;
  return std::string(name.substr(0, p));
}

Result<bool> option_bool(const std::string& key, const std::optional<std::string>& value) {
  return parse_img_bool(key, value.value_or(""));
}

Result<uint64_t> option_size(const std::string& key, const std::optional<std::string>& value) {
  auto size = parse_img_size(value.value_or(""));
  if (!size) {
    return Error("Parameter '" + key +
                 "' expects a non-negative number below 2^64 (optional suffix k, M, G, T, P "
                 "or E)");
  }
  return *size;
}

// The options that only tune qemu's caches and checks: accepted, and of no
// consequence here.
bool is_qcow2_tuning_option(const std::string& key) {
  static constexpr std::string_view kTuning[] = {"cache-size",           "refcount-cache-size",
                                                 "l2-cache-entry-size",  "cache-clean-interval",
                                                 "pass-discard-request", "pass-discard-snapshot",
                                                 "pass-discard-other",   "overlap-check"};
  return is_one_of(key, kTuning) || key.starts_with("overlap-check.");
}

// The options of every node (block.c bdrv_runtime_opts and the cache and
// sharing flags) that apply here or change nothing here. Stores what they
// say in `spec`; false when `key` is none of them.
Result<bool> take_common_option(const std::string& key, const std::optional<std::string>& value,
                                ImageSpec& spec) {
  if (key == "node-name") return true;
  if (key == "read-only") {
    TRY_ASSIGN(bool on, option_bool(key, value));
    spec.read_only = spec.read_only || on;
    return true;
  }
  if (key == "auto-read-only" || key == "force-share") {
    // Vessel takes no locks: -U and force-share change nothing.
    TRY(option_bool(key, value));
    return true;
  }
  if (key == "cache.direct" || key == "cache.no-flush") {
    TRY_ASSIGN(bool on, option_bool(key, value));
    (key == "cache.direct" ? spec.cache_direct : spec.cache_no_flush) = on;
    return true;
  }
  if (key == "discard") {
    // Which guest discards reach the file: vessel img sends none of its own.
    const std::string v = value.value_or("");
    if (v != "ignore" && v != "off" && v != "unmap" && v != "on") {
      return Error("Invalid discard option");
    }
    return true;
  }
  if (key == "detect-zeroes") {
    const std::string v = value.value_or("");
    if (v == "off") return true;
    if (v == "on" || v == "unmap") {
      return Error("vessel img does not support the option 'detect-zeroes=" + v + "'");
    }
    return Error("Parameter 'detect-zeroes' does not accept value '" + v + "'");
  }
  return false;
}

// Reads the options of the image file node ("file.*", prefix removed).
Result<void> take_file_options(const Options& file, ImageSpec& spec) {
  std::string driver = "file";
  if (auto it = file.find("driver"); it != file.end() && it->second) driver = *it->second;
  if (!is_one_of(driver, kQemuDrivers)) return Error("Unknown driver '" + driver + "'");
  if (!is_one_of(driver, kQemuProtocols)) {
    // A format on top of a format: that one needs a file of its own.
    return Error("A block device must be specified for \"file\"");
  }
  if (driver != "file") {
    return Error("the '" + driver +
                 "' protocol is not supported by vessel img (only 'file': local files)");
  }
  auto filename = file.find("filename");
  if (filename == file.end() || !filename->second || filename->second->empty()) {
    return Error("The 'file' block driver requires a file name");
  }
  spec.path = *filename->second;
  for (const auto& [key, value] : file) {
    if (key == "driver" || key == "filename") continue;
    TRY_ASSIGN(bool common, take_common_option(key, value, spec));
    if (common) continue;
    if (key == "locking") {
      // Vessel never locks images (see "Locking and -U").
      const std::string v = value.value_or("");
      if (v != "on" && v != "off" && v != "auto") {
        return Error("invalid parameter value: " + v);
      }
    } else if (key == "aio") {
      const std::string v = value.value_or("");
      if (v == "native" || v == "io_uring") {
        return Error("vessel img does not support aio=" + v + " (threads is its only engine)");
      }
      if (v != "threads") return Error("Parameter 'aio' does not accept value '" + v + "'");
    } else if (key == "aio-max-batch") {
      TRY(option_size(key, value));
    } else if (key == "drop-cache" || key == "x-check-cache-dropped") {
      TRY(option_bool(key, value));
    } else if (key == "pr-manager") {
      return Error("vessel img does not support the option 'pr-manager'");
    } else {
      return Error("Block protocol 'file' doesn't support the option '" + key + "'");
    }
  }
  return Ok();
}

// Reads the options of the format node (everything but "driver" and
// "file.*") once the format is known.
Result<void> take_format_options(const Options& options, ImageSpec& spec) {
  const std::string& format = spec.format;
  for (const auto& [key, value] : options) {
    TRY_ASSIGN(bool common, take_common_option(key, value, spec));
    if (common) continue;
    if (format == "qcow2") {
      if (key == "l2-cache-size") {
        TRY_ASSIGN(spec.l2_cache_bytes, option_size(key, value));
        continue;
      }
      if (is_qcow2_tuning_option(key)) continue;
      if (key == "backing" && !value) {
        spec.no_backing = true;
        continue;
      }
      if (key == "backing" && value) {
        // A string names a node; --image-opts has no null ("backing=null"
        // is that string), and qemu then says this.
        return Error("Block format 'qcow2' does not support the option 'backing'");
      }
      if (key.starts_with("encrypt.") || key == "encrypt") {
        return Error("vessel img does not support encrypted qcow2 images (option '" + key + "')");
      }
      if (key == "backing" || key.starts_with("backing.") || key == "data-file" ||
          key.starts_with("data-file.") || key == "lazy-refcounts") {
        return Error("vessel img does not support the option '" + key + "' of the 'qcow2' driver");
      }
    } else if (key == "offset" || key == "size") {
      return Error("vessel img does not support the option '" + key + "' of the 'raw' driver");
    }
    return Error("Block format '" + format + "' does not support the option '" + key + "'");
  }
  return Ok();
}

// Options of json: and --image-opts names, as qemu's bdrv_open() reads
// them: `format` (-f) overrides the "driver" they name.
Result<ImageSpec> spec_from_options(Options options, const std::string& format) {
  ImageSpec spec;
  if (!format.empty()) options["driver"] = format;
  std::string driver;
  if (auto it = options.find("driver"); it != options.end()) {
    if (it->second) driver = *it->second;
    options.erase(it);
  }
  Options file;
  for (auto it = options.begin(); it != options.end();) {
    if (it->first.starts_with("file.")) {
      file[it->first.substr(5)] = it->second;
      it = options.erase(it);
    } else {
      ++it;
    }
  }
  if (auto it = options.find("file"); it != options.end()) {
    if (it->second && file.empty()) {
      // A string names a node defined elsewhere; there are none here.
      return Error("Cannot find device='" + *it->second + "' nor node-name='" + *it->second + "'");
    }
    options.erase(it);
  }
  if (driver.empty() && file.empty()) return Error("Must specify either driver or file");
  if (!driver.empty()) {
    if (!is_one_of(driver, kQemuDrivers)) return Error("Unknown driver '" + driver + "'");
    if (driver != "raw" && driver != "qcow2") {
      return Error("the '" + driver +
                   "' driver is not supported by vessel img (formats: raw and qcow2)");
    }
    if (file.empty()) return Error("A block device must be specified for \"file\"");
  }
  TRY(take_file_options(file, spec));
  struct stat st;
  if (stat(spec.path.c_str(), &st) != 0) {
    return Error("Could not open '" + spec.path + "': " + std::strerror(errno));
  }
  if (driver.empty()) {
    TRY_ASSIGN(block::ImageFormat probed, probe_format(spec.path));
    driver = block::image_format_name(probed);
  }
  spec.format = driver;
  TRY(take_format_options(options, spec));
  return spec;
}

// qemu's id_wellformed(): letters, digits, '-', '.', '_', starting with a letter.
bool id_wellformed(std::string_view id) {
  if (id.empty() || !std::isalpha(static_cast<unsigned char>(id[0]))) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_';
  });
}

}  // namespace

CacheMode ImageSpec::cache(CacheMode mode) const {
  using block::HostCache;
  const bool direct =
      mode.host_cache == HostCache::kDirect || mode.host_cache == HostCache::kDirectSync;
  const bool sync =
      mode.host_cache == HostCache::kWritethrough || mode.host_cache == HostCache::kDirectSync;
  const bool want_direct = cache_direct.value_or(direct);
  if (want_direct) {
    mode.host_cache = sync ? HostCache::kDirectSync : HostCache::kDirect;
  } else {
    mode.host_cache = sync ? HostCache::kWritethrough : HostCache::kWriteback;
  }
  if (cache_no_flush) mode.flush = !*cache_no_flush;
  return mode;
}

Result<ImageSpec> parse_image_name(const std::string& name, const std::string& format,
                                   ImageNameSyntax syntax, const Warn& warn) {
  auto failed = [&](const Error& e) {
    return Error("Could not open '" + name + "': " + e.message());
  };
  if (syntax == ImageNameSyntax::kImageOpts) {
    if (!format.empty()) return Error("--image-opts and --format are mutually exclusive");
    Options options;
    for (auto& [key, value] : parse_opts_list(name, "file", warn)) options[key] = std::move(value);
    auto spec = spec_from_options(std::move(options), "");
    if (!spec) return failed(spec.error());
    spec->name = name;
    return spec;
  }
  if (name.starts_with("json:")) {
    nlohmann::json parsed;
    try {
      parsed = nlohmann::json::parse(name.substr(5));
    } catch (const nlohmann::json::parse_error& e) {
      return failed(Error("Could not parse the JSON options: " + json_error(e)));
    }
    if (!parsed.is_object()) return failed(Error("Invalid JSON object given"));
    Options options;
    flatten(parsed, "", options);
    auto spec = spec_from_options(std::move(options), format);
    if (!spec) return failed(spec.error());
    spec->name = name;
    return spec;
  }
  ImageSpec spec;
  spec.name = name;
  spec.path = name;
  spec.format = format;
  if (auto protocol = protocol_of(name)) {
    if (*protocol != "file") {
      if (!is_one_of(*protocol, kQemuProtocols)) {
        return failed(Error("Unknown protocol '" + *protocol + "'"));
      }
      return failed(Error("the '" + *protocol +
                          "' protocol is not supported by vessel img (only 'file': local files)"));
    }
    spec.path = name.substr(5);
    if (spec.path.empty()) return failed(Error("The 'file' block driver requires a file name"));
    struct stat st;
    if (stat(spec.path.c_str(), &st) != 0) {
      return failed(Error("Could not open '" + spec.path + "': " + std::strerror(errno)));
    }
  }
  return spec;
}

Result<ObjectHelp> add_image_object(std::string_view text, std::vector<ImageSecret>& secrets) {
  if (text == "help") return ObjectHelp::kTypes;
  Options props;
  if (text.starts_with("{")) {
    nlohmann::json parsed;
    try {
      parsed = nlohmann::json::parse(text);
    } catch (const nlohmann::json::parse_error& e) {
      return Error(json_error(e));
    }
    if (!parsed.is_object()) return Error("Invalid JSON object given");
    for (const auto& [key, value] : parsed.items()) {
      if (!value.is_string()) {
        return Error("Invalid parameter type for '" + key + "', expected: string");
      }
      props[key] = value.get<std::string>();
    }
  } else {
    // qemu's keyval_parse() with "qom-type" implied: values need '=' but
    // the first one.
    size_t pos = 0;
    bool first = true;
    while (pos < text.size()) {
      size_t name_end = text.find_first_of("=,", pos);
      if (name_end == std::string_view::npos) name_end = text.size();
      std::string key(text.substr(pos, name_end - pos));
      if (first && (name_end == text.size() || text[name_end] == ',')) {
        if (key.empty()) return Error("Invalid parameter ''");
        if (key == "help") return ObjectHelp::kTypes;
        props["qom-type"] = opt_value(text, pos);
      } else if (name_end == text.size() || text[name_end] == ',') {
        if (key == "help" || key == "?") {
          auto type = props.find("qom-type");
          if (type != props.end() && type->second == "secret") return ObjectHelp::kSecretOptions;
        }
        if (key.empty()) return Error("Invalid parameter ''");
        return Error("Expected '=' after parameter '" + key + "'");
      } else {
        if (key.empty()) return Error("Invalid parameter ''");
        pos = name_end + 1;
        props[key] = opt_value(text, pos);
      }
      first = false;
      if (pos < text.size()) ++pos;
    }
  }
  auto get = [&](const char* key) -> std::optional<std::string> {
    auto it = props.find(key);
    if (it == props.end()) return std::nullopt;
    return it->second.value_or("");
  };
  auto type = get("qom-type");
  if (!type) return Error("Parameter 'qom-type' is missing");
  if (!is_one_of(*type, kQemuObjectTypes)) {
    return Error("Parameter 'qom-type' does not accept value '" + *type + "'");
  }
  if (*type != "secret") return Error("invalid object type: " + *type);
  auto id = get("id");
  if (!id) return Error("Parameter 'id' is missing");
  if (!id_wellformed(*id)) {
    return Error(
        "Parameter 'id' expects an identifier\n"
        "Identifiers consist of letters, digits, '-', '.', '_', starting with a letter.");
  }
  for (const auto& [key, value] : props) {
    static constexpr std::string_view kKnown[] = {"qom-type", "id",    "data", "file",
                                                  "format",   "keyid", "iv"};
    if (key == "loaded") return Error("Property 'secret.loaded' is not writable");
    if (!is_one_of(key, kKnown)) return Error("Parameter '" + key + "' is unexpected");
  }
  auto format = get("format");
  if (format && *format != "raw" && *format != "base64") {
    return Error("Parameter 'format' does not accept value '" + *format + "'");
  }
  auto data = get("data");
  auto file = get("file");
  if (data && file) return Error("'file' and 'data' are mutually exclusive");
  if (!data && !file) return Error("Either 'file' or 'data' must be provided");
  ImageSecret secret;
  secret.id = *id;
  if (file) {
    std::ifstream in(*file, std::ios::binary);
    if (!in) {
      return Error("Unable to read " + *file + ": Failed to open file \u201c" + *file +
                   "\u201d: " + std::strerror(errno));
    }
    secret.value.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  } else {
    secret.value = *data;
  }
  if (format == "base64") {
    static constexpr std::string_view kBase64 =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=\n";
    if (secret.value.find_first_not_of(kBase64) != std::string::npos) {
      return Error("Base64 data contains invalid characters");
    }
  }
  if (auto keyid = get("keyid")) {
    bool known = std::any_of(secrets.begin(), secrets.end(),
                             [&](const ImageSecret& s) { return s.id == *keyid; });
    if (!known) return Error("No secret with id '" + *keyid + "'");
    return Error("vessel img does not support secrets encrypted with another one (keyid)");
  }
  for (const ImageSecret& s : secrets) {
    if (s.id == secret.id) {
      return Error("attempt to add duplicate property '" + secret.id +
                   "' to object (type 'container')");
    }
  }
  secrets.push_back(std::move(secret));
  return ObjectHelp::kNone;
}

Result<OpenedImage> open_image(const ImageSpec& spec, bool writable, CacheMode cache,
                               const SnapshotRef& snapshot) {
  auto failed = [&](const Error& e) {
    return Error("Could not open '" + spec.name + "': " + e.message());
  };
  if (writable && spec.read_only) return failed(Error("Block node is read-only"));
  const bool plain = spec.l2_cache_bytes == 0 && !spec.no_backing;
  cache = spec.cache(cache);
  if (plain || spec.format != "qcow2") {
    return open_image(spec.path, spec.format, writable, cache, snapshot);
  }
  OpenedImage image;
  image.format = block::ImageFormat::kQcow2;
  block::Qcow2OpenOptions options = qcow2_open_options(writable, cache, snapshot);
  options.l2_cache_bytes = spec.l2_cache_bytes;
  if (spec.no_backing) options.backing = block::Qcow2BackingPolicy::kIgnore;
  TRY_ASSIGN(auto q, block::Qcow2Image::open(spec.path, options));
  image.qcow2 = q.get();
  image.backend = std::move(q);
  return image;
}

}  // namespace vessel::storage
