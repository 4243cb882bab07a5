// vessel img create: new raw and qcow2 images, qemu-img's options.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "cli/img_common.h"
#include "cli/img_verbs.h"

namespace vessel::cli::img {
namespace {

void print_help() {
  std::printf(
      "Usage: vessel img create [-q] [-f fmt] [-b backing_file -F backing_fmt] [-u]\n"
      "                         [-o options] filename [size]\n"
      "\n"
      "Creates a disk image (replacing any file of that name).\n"
      "\n"
      "Options:\n"
      "  -f fmt           raw (default) or qcow2\n"
      "  -b backing_file  qcow2 only: the image reads through to this file where it\n"
      "                   has no data of its own; size defaults to its size\n"
      "  -F backing_fmt   the backing file's format (raw or qcow2; probed if absent)\n"
      "  -u               do not open the backing file (size must then be given)\n"
      "  -o options       comma-separated key=value list ('-o help' lists them)\n"
      "  -q               quiet: no 'Formatting ...' line\n"
      "  -h, --help       show this help\n"
      "\n"
      "size: bytes, or with a suffix k, M, G, T, P, E (e.g. 10G).\n"
      "\n"
      "qcow2 options (-o):\n"
      "  size=SIZE                 virtual disk size\n"
      "  compat=0.10|1.1           qcow2 version 2 or 3 (default 1.1)\n"
      "  cluster_size=SIZE         512 to 2M, a power of two (default 64k)\n"
      "  refcount_bits=N           1, 2, 4, 8, 16, 32 or 64 (default 16)\n"
      "  lazy_refcounts=on|off     compat=1.1 only (default off)\n"
      "  preallocation=off|metadata\n"
      "  compression_type=zlib|zstd  (zstd needs compat=1.1)\n"
      "  backing_file=FILE, backing_fmt=FMT  as -b and -F\n"
      "raw options (-o):\n"
      "  size=SIZE, preallocation=off|falloc|full\n"
      "\n"
      "Exit status: 0 on success, 1 on any error.\n");
}

void print_option_help(block::ImageFormat format) {
  if (format == block::ImageFormat::kQcow2) {
    std::printf(
        "Supported qcow2 options:\n"
        "  backing_file=<str>     - File name of a base image\n"
        "  backing_fmt=<str>      - Image format of the base image\n"
        "  cluster_size=<size>    - qcow2 cluster size\n"
        "  compat=<str>           - Compatibility level (0.10 or 1.1)\n"
        "  compression_type=<str> - Compression method used for image cluster compression\n"
        "  lazy_refcounts=<bool (on/off)> - Postpone refcount updates\n"
        "  preallocation=<str>    - Preallocation mode (allowed values: off, metadata)\n"
        "  refcount_bits=<num>    - Width of a reference count entry in bits\n"
        "  size=<size>            - Virtual disk size\n");
  } else {
    std::printf(
        "Supported raw options:\n"
        "  preallocation=<str>    - Preallocation mode (allowed values: off, falloc, full)\n"
        "  size=<size>            - Virtual disk size\n");
  }
}

Result<bool> parse_bool(std::string_view key, std::string_view value) {
  if (value == "on" || value == "true" || value == "yes") return true;
  if (value == "off" || value == "false" || value == "no") return false;
  return Error("parameter '" + std::string(key) + "' expects 'on' or 'off' (got '" +
               std::string(value) + "')");
}

Result<void> create_raw(const std::string& path, uint64_t size, const std::string& prealloc) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Error(path + ": " + std::strerror(errno));
  std::string error;
  if (ftruncate(fd, static_cast<off_t>(size)) != 0) {
    error = path + ": " + std::strerror(errno);
  } else if (prealloc == "falloc" || prealloc == "full") {
    int rc = size == 0 ? 0 : posix_fallocate(fd, 0, static_cast<off_t>(size));
    if (rc != 0) error = path + ": cannot preallocate: " + std::strerror(rc);
  }
  if (::close(fd) != 0 && error.empty()) error = path + ": " + std::strerror(errno);
  if (!error.empty()) return Error(error);
  return Ok();
}

}  // namespace

int create_verb(std::span<const std::string_view> args) {
  enum { kFormat, kOptions, kBacking, kBackingFormat, kUnsafe, kQuiet, kHelp, kHelpLong };
  const ImgOption specs[] = {{'f', "", true},  {'o', "", true, Repeat::kAddsUp},
                             {'b', "", true},  {'F', "", true},
                             {'u', "", false}, {'q', "", false},
                             {'h', "", false}, {0, "help", false}};
  auto parsed = parse_img_args(args, specs, "create");
  if (!parsed) return fail(parsed.error().message());

  block::ImageFormat format = block::ImageFormat::kRaw;
  std::string format_name = "raw";
  std::vector<std::string> option_lists;
  std::string backing, backing_format;
  bool unsafe = false, quiet = false;
  for (const auto& [index, value] : parsed->options) {
    switch (index) {
      case kFormat: {
        auto f = parse_format_option(value);
        if (!f) return fail(f.error().message());
        format = *f;
        format_name = value;
        break;
      }
      case kOptions:
        option_lists.push_back(value);
        break;
      case kBacking:
        backing = value;
        break;
      case kBackingFormat:
        backing_format = value;
        break;
      case kUnsafe:
        unsafe = true;
        break;
      case kQuiet:
        quiet = true;
        break;
      default:
        print_help();
        return 0;
    }
  }

  block::Qcow2CreateOptions q;
  std::string raw_prealloc = "off";
  std::optional<uint64_t> size;
  bool compat_given = false, refcount_given = false;
  for (const std::string& item : img_option_items(option_lists)) {
    if (item == "help" || item == "?") {
      print_option_help(format);
      return 0;
    }
    size_t eq = item.find('=');
    if (eq == std::string::npos) {
      return fail("invalid option '" + item + "' in -o: expected key=value");
    }
    std::string key = item.substr(0, eq), value = item.substr(eq + 1);
    auto bad = [&](const std::string& why) {
      return fail("invalid value '" + value + "' for option " + key + ": " + why);
    };
    if (key == "size") {
      auto s = parse_img_size(value);
      if (!s) return fail(s.error().message());
      size = *s;
    } else if (key == "preallocation") {
      if (format == block::ImageFormat::kQcow2) {
        if (value == "off") {
          q.preallocation = block::Qcow2Preallocation::kOff;
        } else if (value == "metadata") {
          q.preallocation = block::Qcow2Preallocation::kMetadata;
        } else {
          return bad("qcow2 supports preallocation=off or metadata");
        }
      } else {
        if (value != "off" && value != "falloc" && value != "full") {
          return bad("raw supports preallocation=off, falloc or full");
        }
        raw_prealloc = value;
      }
    } else if (format == block::ImageFormat::kRaw) {
      return fail("invalid option '" + key + "' for format 'raw' (see '-o help')");
    } else if (key == "cluster_size") {
      auto s = parse_img_size(value);
      if (!s) return fail(s.error().message());
      if (*s < 512 || *s > (2u << 20) || (*s & (*s - 1)) != 0) {
        return bad("cluster size must be a power of two between 512 and 2M");
      }
      q.cluster_size = static_cast<uint32_t>(*s);
    } else if (key == "compat") {
      auto v = block::parse_qcow2_compat(value);
      if (!v) return bad("use 0.10 or 1.1");
      q.version = *v;
      compat_given = true;
    } else if (key == "refcount_bits") {
      auto bits = block::parse_qcow2_refcount_bits(value);
      if (!bits) return bad(bits.error().message());
      q.refcount_bits = *bits;
      refcount_given = true;
    } else if (key == "lazy_refcounts") {
      auto b = parse_bool(key, value);
      if (!b) return fail(b.error().message());
      q.lazy_refcounts = *b;
    } else if (key == "compression_type") {
      if (value == "zlib") {
        q.compression_type = block::qcow2::CompressionType::kZlib;
      } else if (value == "zstd") {
        q.compression_type = block::qcow2::CompressionType::kZstd;
      } else {
        return bad("use zlib or zstd");
      }
    } else if (key == "backing_file") {
      backing = value;
    } else if (key == "backing_fmt") {
      backing_format = value;
    } else if (key == "extended_l2") {
      auto b = parse_bool(key, value);
      if (!b) return fail(b.error().message());
      if (*b) return fail("extended_l2=on is not supported");
    } else {
      return fail("invalid option '" + key + "' for format 'qcow2' (see '-o help')");
    }
  }

  const auto& pos = parsed->positional;
  if (pos.empty()) return fail("expecting image file name (see 'vessel img create --help')");
  if (pos.size() > 2) return fail("unexpected argument '" + pos[2] + "'");
  const std::string& path = pos[0];
  if (pos.size() == 2) {
    auto s = parse_img_size(pos[1]);
    if (!s) return fail(s.error().message());
    size = *s;
  }
  // qemu-img's limit, and it rounds a size up to whole 512-byte sectors
  // (1234 → 1536).
  if (size && *size > (uint64_t{INT64_MAX} & ~uint64_t{511})) {
    return fail(path + ": Invalid image size specified. Must be between 0 and " +
                std::to_string(INT64_MAX) + ".");
  }
  if (size) size = (*size + 511) & ~uint64_t{511};

  if (format == block::ImageFormat::kRaw) {
    if (!backing.empty()) return fail(path + ": the raw format does not support backing files");
    if (!size)
      return fail(path + ": image size is required (e.g. 'vessel img create " + path + " 10G')");
    if (!quiet) {
      std::printf("Formatting '%s', fmt=raw size=%llu\n", path.c_str(),
                  static_cast<unsigned long long>(*size));
    }
    auto r = create_raw(path, *size, raw_prealloc);
    if (!r) return fail(r.error().message());
    return 0;
  }

  if (q.version == block::Qcow2Version::kV2) {
    if (q.lazy_refcounts) return fail(path + ": lazy refcounts require compat=1.1");
    if (q.compression_type == block::qcow2::CompressionType::kZstd) {
      return fail(path + ": compression_type=zstd requires compat=1.1");
    }
    if (refcount_given && q.refcount_bits != 16) {
      return fail(path + ": different refcount widths than 16 bits require compat=1.1");
    }
  }
  (void)compat_given;
  if (!backing.empty()) {
    std::string resolved = resolve_backing_path(path, backing);
    if (backing_format.empty()) {
      if (unsafe) return fail(path + ": Backing file specified without backing format");
      auto probed = block::probe_image_format(resolved);
      if (!probed) return fail("could not open backing file: " + probed.error().message());
      backing_format = block::image_format_name(*probed);
    } else {
      auto f = parse_format_option(backing_format);
      if (!f) return fail(f.error().message());
    }
    if (!unsafe) {
      auto opened = open_image(resolved, backing_format, false);
      if (!opened) return fail("could not open backing file: " + opened.error().message());
      if (!size) size = opened->backend->size();
    }
    q.backing_file = backing;
    q.backing_format = backing_format;
    q.backing_unchecked = unsafe;
  } else if (!backing_format.empty()) {
    return fail(path + ": a backing format (-F) needs a backing file (-b)");
  }
  if (!size)
    return fail(path + ": image size is required (e.g. 'vessel img create -f qcow2 " + path +
                " 10G')");
  q.size = *size;

  if (!quiet) {
    std::string line = "Formatting '" + path +
                       "', fmt=qcow2 cluster_size=" + std::to_string(q.cluster_size) +
                       " extended_l2=off";
    if (q.preallocation == block::Qcow2Preallocation::kMetadata) line += " preallocation=metadata";
    line += std::string(" compression_type=") +
            (q.compression_type == block::qcow2::CompressionType::kZstd ? "zstd" : "zlib");
    line += " size=" + std::to_string(q.size);
    if (!q.backing_file.empty()) {
      line += " backing_file=" + q.backing_file + " backing_fmt=" + q.backing_format;
    }
    if (q.version == block::Qcow2Version::kV2) line += " compat=0.10";
    line += std::string(" lazy_refcounts=") + (q.lazy_refcounts ? "on" : "off");
    line += " refcount_bits=" + std::to_string(q.refcount_bits);
    std::printf("%s\n", line.c_str());
    std::fflush(stdout);
  }
  auto created = block::Qcow2Image::create(path, q);
  if (!created) return fail(created.error().message());
  return 0;
}

}  // namespace vessel::cli::img
