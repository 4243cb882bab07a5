#include "storage/create_options.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "storage/image_values.h"

namespace vessel::storage {
namespace {

// One qcow2 option; false when `key` is not one.
Result<bool> parse_qcow2_option(const std::string& key, const std::string& value,
                                ImgCreateOptions& o) {
  block::Qcow2CreateOptions& q = o.qcow2;
  auto bad = [&](const std::string& why) {
    return Error("invalid value '" + value + "' for option " + key + ": " + why);
  };
  if (key == "cluster_size") {
    TRY_ASSIGN(uint64_t s, parse_img_size(value));
    if (s < 512 || s > (2u << 20) || (s & (s - 1)) != 0) {
      return bad("cluster size must be a power of two between 512 and 2M");
    }
    q.cluster_size = static_cast<uint32_t>(s);
  } else if (key == "compat") {
    auto v = block::parse_qcow2_compat(value);
    if (!v) return bad("use 0.10 or 1.1");
    q.version = *v;
    o.compat_given = true;
  } else if (key == "refcount_bits") {
    auto bits = block::parse_qcow2_refcount_bits(value);
    if (!bits) return bad(bits.error().message());
    q.refcount_bits = *bits;
    o.refcount_bits_given = true;
  } else if (key == "lazy_refcounts") {
    TRY_ASSIGN(q.lazy_refcounts, parse_img_bool(key, value));
  } else if (key == "extended_l2") {
    TRY_ASSIGN(q.extended_l2, parse_img_bool(key, value));
  } else if (key == "compression_type") {
    if (value == "zlib") {
      q.compression_type = block::qcow2::CompressionType::kZlib;
    } else if (value == "zstd") {
      q.compression_type = block::qcow2::CompressionType::kZstd;
    } else {
      return bad("use zlib or zstd");
    }
  } else if (key == "data_file") {
    q.data_file = value;
  } else if (key == "data_file_raw") {
    TRY_ASSIGN(q.data_file_raw, parse_img_bool(key, value));
    o.data_file_raw_given = true;
  } else if (key == "backing_file") {
    o.backing_file = value;
  } else if (key == "backing_fmt") {
    o.backing_format = value;
  } else {
    return false;
  }
  return true;
}

}  // namespace

std::string create_options_help(block::ImageFormat format) {
  if (format == block::ImageFormat::kQcow2) {
    return "Supported qcow2 options:\n"
           "  backing_file=<str>     - File name of a base image\n"
           "  backing_fmt=<str>      - Image format of the base image\n"
           "  cluster_size=<size>    - qcow2 cluster size\n"
           "  compat=<str>           - Compatibility level (0.10 or 1.1)\n"
           "  compression_type=<str> - Compression method used for image cluster compression\n"
           "  data_file=<str>        - File name of an external data file\n"
           "  data_file_raw=<bool (on/off)> - The external data file must stay valid as a raw "
           "image\n"
           "  extended_l2=<bool (on/off)> - Extended L2 tables\n"
           "  extent_size_hint=<size> - Extent size hint for the image file, 0 to disable\n"
           "  lazy_refcounts=<bool (on/off)> - Postpone refcount updates\n"
           "  preallocation=<str>    - Preallocation mode (allowed values: off, metadata)\n"
           "  refcount_bits=<num>    - Width of a reference count entry in bits\n"
           "  size=<size>            - Virtual disk size\n";
  } else {
    return "Supported raw options:\n"
           "  extent_size_hint=<size> - Extent size hint for the image file, 0 to disable\n"
           "  preallocation=<str>    - Preallocation mode (allowed values: off, falloc, full)\n"
           "  size=<size>            - Virtual disk size\n";
  }
}

std::string extent_size_hint_error() {
  return "Parameter 'extent_size_hint' expects a non-negative number below 2^64 (optional "
         "suffix k, M, G, T, P or E)";
}

Result<ImgCreateOptions> parse_img_create_options(block::ImageFormat format,
                                                  std::span<const std::string> lists) {
  ImgCreateOptions o;
  const bool qcow2 = format == block::ImageFormat::kQcow2;
  for (const std::string& item : img_option_items(lists)) {
    if (item == "help" || item == "?") {
      o.help = true;
      return o;
    }
    size_t eq = item.find('=');
    if (eq == std::string::npos) {
      return Error("invalid option '" + item + "' in -o: expected key=value");
    }
    std::string key = item.substr(0, eq), value = item.substr(eq + 1);
    if (key == "size") {
      TRY_ASSIGN(o.size, parse_img_size(value));
    } else if (key == "extent_size_hint") {
      // QEMU's file protocol option; its range is checked when the file is
      // made (after the "Formatting" line, as qemu-img does).
      auto hint = parse_img_size(value);
      if (!hint) {
        return Error(extent_size_hint_error());
      }
      o.extent_size_hint = *hint;
      o.extent_size_hint_given = true;
    } else if (key == "preallocation") {
      if (qcow2) {
        if (value == "off") {
          o.qcow2.preallocation = block::Qcow2Preallocation::kOff;
        } else if (value == "metadata") {
          o.qcow2.preallocation = block::Qcow2Preallocation::kMetadata;
        } else {
          return Error("invalid value '" + value +
                       "' for option preallocation: qcow2 supports preallocation=off or metadata");
        }
      } else {
        if (value != "off" && value != "falloc" && value != "full") {
          return Error("invalid value '" + value +
                       "' for option preallocation: raw supports preallocation=off, falloc or "
                       "full");
        }
        o.raw_preallocation = value;
      }
    } else {
      bool known = false;
      if (qcow2) {
        TRY_ASSIGN(known, parse_qcow2_option(key, value, o));
      }
      if (!known) {
        return Error("invalid option '" + key + "' for format '" +
                     std::string(block::image_format_name(format)) + "' (see '-o help')");
      }
    }
  }
  return o;
}

Result<void> check_img_create_options(const std::string& path, const ImgCreateOptions& o) {
  const block::Qcow2CreateOptions& q = o.qcow2;
  if (q.version == block::Qcow2Version::kV2) {
    if (q.lazy_refcounts) return Error(path + ": lazy refcounts require compat=1.1");
    if (q.compression_type == block::qcow2::CompressionType::kZstd) {
      return Error(path + ": compression_type=zstd requires compat=1.1");
    }
    if (o.refcount_bits_given && q.refcount_bits != 16) {
      return Error(path + ": different refcount widths than 16 bits require compat=1.1");
    }
  }
  return Ok();
}

std::string qcow2_formatting_line(const std::string& path, const ImgCreateOptions& o) {
  const block::Qcow2CreateOptions& q = o.qcow2;
  std::string line = "Formatting '" + path +
                     "', fmt=qcow2 cluster_size=" + std::to_string(q.cluster_size) +
                     " extended_l2=" + (q.extended_l2 ? "on" : "off");
  if (q.preallocation == block::Qcow2Preallocation::kMetadata) line += " preallocation=metadata";
  line += std::string(" compression_type=") +
          (q.compression_type == block::qcow2::CompressionType::kZstd ? "zstd" : "zlib");
  line += " size=" + std::to_string(q.size);
  if (!q.backing_file.empty()) {
    line += " backing_file=" + q.backing_file + " backing_fmt=" + q.backing_format;
  }
  if (q.version == block::Qcow2Version::kV2) line += " compat=0.10";
  if (!q.data_file.empty()) line += " data_file=" + q.data_file;
  if (o.data_file_raw_given)
    line += std::string(" data_file_raw=") + (q.data_file_raw ? "on" : "off");
  line += std::string(" lazy_refcounts=") + (q.lazy_refcounts ? "on" : "off");
  line += " refcount_bits=" + std::to_string(q.refcount_bits);
  if (o.extent_size_hint_given) line += " extent_size_hint=" + std::to_string(o.extent_size_hint);
  return line;
}

std::string raw_formatting_line(const std::string& path, uint64_t size, const ImgCreateOptions& o) {
  std::string line = "Formatting '" + path + "', fmt=raw size=" + std::to_string(size);
  if (o.raw_preallocation != "off") line += " preallocation=" + o.raw_preallocation;
  if (o.extent_size_hint_given) line += " extent_size_hint=" + std::to_string(o.extent_size_hint);
  return line;
}

block::Qcow2CreateOptions qcow2_create_options(const ImgCreateOptions& o, const Warn& warn) {
  block::Qcow2CreateOptions q = o.qcow2;
  q.extent_size_hint = o.extent_size_hint;
  // qemu-img warns only about a hint it was given.
  if (o.extent_size_hint_given) q.warn = warn;
  return q;
}

Result<void> create_raw_image(const std::string& path, uint64_t size, const ImgCreateOptions& o,
                              const Warn& warn) {
  if (o.extent_size_hint > block::kMaxExtentSizeHint) {
    return Error(path + ": Extent size hint is too large");
  }
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Error(path + ": " + std::strerror(errno));
  // While the file is still empty, as XFS requires.
  auto hinted = block::set_extent_size_hint(fd, static_cast<uint32_t>(o.extent_size_hint));
  if (!hinted && o.extent_size_hint_given && o.extent_size_hint != 0 && warn) {
    warn("Failed to set extent size hint: " + hinted.error().message());
  }
  std::string error;
  if (ftruncate(fd, static_cast<off_t>(size)) != 0) {
    error = path + ": " + std::strerror(errno);
  } else if (o.raw_preallocation == "falloc" || o.raw_preallocation == "full") {
    int rc = size == 0 ? 0 : posix_fallocate(fd, 0, static_cast<off_t>(size));
    if (rc != 0) error = path + ": cannot preallocate: " + std::strerror(rc);
  }
  if (::close(fd) != 0 && error.empty()) error = path + ": " + std::strerror(errno);
  if (!error.empty()) return Error(error);
  return Ok();
}

}  // namespace vessel::storage
