// vessel img info: what an image is, in qemu-img's human and JSON forms.
#include <cstdio>

#include "cli/img_common.h"
#include "cli/img_image_spec.h"
#include "cli/img_verbs.h"
#include "storage/info.h"

namespace vessel::cli::img {
namespace {

void print_help() {
  std::printf(
      "Usage: vessel img info [-f fmt] [--output=human|json] [--backing-chain] [-U] filename\n"
      "\n"
      "Shows an image's format, virtual size, disk usage and format details, like\n"
      "qemu-img info (same JSON field names). The image is opened read-only.\n"
      "\n"
      "Options:\n"
      "  -f fmt            raw or qcow2 (probed when absent)\n"
      "  --output=FMT      human (default) or json\n"
      "  --backing-chain   also describe every image of the backing chain\n"
      "  -U, --force-share accepted for compatibility (images are never locked)\n"
      "  -h, --help        show this help\n"
      "\n"
      "Exit status: 0 on success, 1 on any error.\n");
  print_image_args_help(kImageArgs);
}

// A bitmap's flags as qemu-img names them, in its order.
std::vector<const char*> bitmap_flags(const block::Qcow2Bitmap& b) {
  std::vector<const char*> flags;
  if (b.in_use()) flags.push_back("in-use");
  if (b.enabled()) flags.push_back("auto");
  return flags;
}

const char* compression_name(block::qcow2::CompressionType t) {
  return t == block::qcow2::CompressionType::kZstd ? "zstd" : "zlib";
}

std::string to_json(const storage::ImageInfo& d, const std::string& indent) {
  const std::string i1 = indent + "    ", i2 = i1 + "    ", i3 = i2 + "    ";
  std::vector<std::string> fields;
  if (d.is_qcow2 && !d.snapshots.empty()) {
    std::string s = i1 + "\"snapshots\": [\n";
    for (size_t k = 0; k < d.snapshots.size(); ++k) {
      const auto& snap = d.snapshots[k];
      // QEMU's SnapshotInfo fields, in qemu-img's order; no icount when unknown.
      s += i2 + "{\n";
      if (snap.icount != -1) s += i3 + "\"icount\": " + std::to_string(snap.icount) + ",\n";
      s += i3 + "\"vm-clock-nsec\": " + std::to_string(snap.vm_clock_nsec % 1000000000) + ",\n" +
           i3 + "\"name\": " + json_string(snap.name) + ",\n" + i3 +
           "\"date-sec\": " + std::to_string(snap.date_sec) + ",\n" + i3 +
           "\"date-nsec\": " + std::to_string(snap.date_nsec) + ",\n" + i3 +
           "\"vm-clock-sec\": " + std::to_string(snap.vm_clock_nsec / 1000000000) + ",\n" + i3 +
           "\"id\": " + json_string(snap.id) + ",\n" + i3 +
           "\"vm-state-size\": " + std::to_string(snap.vm_state_size) + "\n" + i2 + "}" +
           (k + 1 < d.snapshots.size() ? ",\n" : "\n");
    }
    fields.push_back(s + i1 + "]");
  }
  if (d.is_qcow2 && !d.q.backing_format.empty()) {
    fields.push_back(i1 + "\"backing-filename-format\": " + json_string(d.q.backing_format));
  }
  fields.push_back(i1 + "\"virtual-size\": " + std::to_string(d.virtual_size));
  fields.push_back(i1 + "\"filename\": " + json_string(d.filename));
  if (d.is_qcow2) fields.push_back(i1 + "\"cluster-size\": " + std::to_string(d.q.cluster_size));
  fields.push_back(i1 + "\"format\": " + json_string(d.format));
  fields.push_back(i1 + "\"actual-size\": " + std::to_string(d.actual_size));
  if (d.is_qcow2) {
    std::string data = i3 + "\"compat\": " + (d.q.version == 2 ? "\"0.10\"" : "\"1.1\"");
    if (d.q.version >= 3) {
      data += std::string(",\n") + i3 + "\"compression-type\": \"" +
              compression_name(d.q.compression_type) + "\",\n" + i3 +
              "\"lazy-refcounts\": " + (d.q.lazy_refcounts ? "true" : "false");
      if (!d.bitmaps.empty()) {
        const std::string i4 = i3 + "    ", i5 = i4 + "    ", i6 = i5 + "    ";
        data += ",\n" + i3 + "\"bitmaps\": [\n";
        for (size_t k = 0; k < d.bitmaps.size(); ++k) {
          const block::Qcow2Bitmap& b = d.bitmaps[k];
          data += i4 + "{\n" + i5 + "\"flags\": [\n";
          const auto flags = bitmap_flags(b);
          for (size_t f = 0; f < flags.size(); ++f) {
            data += i6 + "\"" + flags[f] + "\"" + (f + 1 < flags.size() ? ",\n" : "\n");
          }
          data += i5 + "],\n" + i5 + "\"name\": " + json_string(b.name) + ",\n" + i5 +
                  "\"granularity\": " + std::to_string(uint64_t{1} << b.granularity_bits) + "\n" +
                  i4 + "}" + (k + 1 < d.bitmaps.size() ? ",\n" : "\n");
        }
        data += i3 + "]";
      }
    } else {
      data += std::string(",\n") + i3 + "\"compression-type\": \"" +
              compression_name(d.q.compression_type) + "\"";
    }
    data += ",\n" + i3 + "\"refcount-bits\": " + std::to_string(d.q.refcount_bits);
    if (!d.q.data_file.empty()) {
      data += ",\n" + i3 + "\"data-file\": " + json_string(d.q.data_file);
    }
    if (d.q.external_data) {
      data += ",\n" + i3 + "\"data-file-raw\": " + (d.q.data_file_raw ? "true" : "false");
    }
    if (d.q.version >= 3) {
      data += std::string(",\n") + i3 + "\"corrupt\": " + (d.q.corrupt ? "true" : "false") + ",\n" +
              i3 + "\"extended-l2\": " + (d.q.extended_l2 ? "true" : "false");
    }
    fields.push_back(i1 + "\"format-specific\": {\n" + i2 + "\"type\": \"qcow2\",\n" + i2 +
                     "\"data\": {\n" + data + "\n" + i2 + "}\n" + i1 + "}");
    if (!d.q.backing_file.empty()) {
      fields.push_back(i1 + "\"full-backing-filename\": " + json_string(d.full_backing));
      fields.push_back(i1 + "\"backing-filename\": " + json_string(d.q.backing_file));
    }
  }
  fields.push_back(i1 + "\"dirty-flag\": " + (d.dirty ? "true" : "false"));
  std::string out = indent + "{\n";
  for (size_t k = 0; k < fields.size(); ++k) {
    out += fields[k] + (k + 1 < fields.size() ? ",\n" : "\n");
  }
  return out + indent + "}";
}

void print_human(const storage::ImageInfo& d) {
  std::printf("image: %s\n", d.filename.c_str());
  std::printf("file format: %s\n", d.format.c_str());
  std::printf("virtual size: %s (%llu bytes)\n", human_size(d.virtual_size).c_str(),
              static_cast<unsigned long long>(d.virtual_size));
  std::printf("disk size: %s\n", human_size(d.actual_size).c_str());
  if (!d.is_qcow2) return;
  std::printf("cluster_size: %u\n", d.q.cluster_size);
  if (!d.q.backing_file.empty()) {
    if (d.full_backing != d.q.backing_file) {
      std::printf("backing file: %s (actual path: %s)\n", d.q.backing_file.c_str(),
                  d.full_backing.c_str());
    } else {
      std::printf("backing file: %s\n", d.q.backing_file.c_str());
    }
    if (!d.q.backing_format.empty()) {
      std::printf("backing file format: %s\n", d.q.backing_format.c_str());
    }
  }
  if (!d.snapshots.empty()) std::fputs(snapshot_list_text(d.snapshots).c_str(), stdout);
  std::printf("Format specific information:\n");
  std::printf("    compat: %s\n", d.q.version == 2 ? "0.10" : "1.1");
  std::printf("    compression type: %s\n", compression_name(d.q.compression_type));
  if (d.q.version >= 3) {
    std::printf("    lazy refcounts: %s\n", d.q.lazy_refcounts ? "true" : "false");
    if (!d.bitmaps.empty()) std::printf("    bitmaps:\n");
    for (size_t k = 0; k < d.bitmaps.size(); ++k) {
      std::printf("        [%zu]:\n            flags:\n", k);
      const auto flags = bitmap_flags(d.bitmaps[k]);
      for (size_t f = 0; f < flags.size(); ++f) {
        std::printf("                [%zu]: %s\n", f, flags[f]);
      }
      std::printf("            name: %s\n            granularity: %llu\n",
                  d.bitmaps[k].name.c_str(),
                  static_cast<unsigned long long>(uint64_t{1} << d.bitmaps[k].granularity_bits));
    }
  }
  std::printf("    refcount bits: %u\n", d.q.refcount_bits);
  if (!d.q.data_file.empty()) std::printf("    data file: %s\n", d.q.data_file.c_str());
  if (d.q.external_data) {
    std::printf("    data file raw: %s\n", d.q.data_file_raw ? "true" : "false");
  }
  if (d.q.version >= 3) {
    std::printf("    corrupt: %s\n", d.q.corrupt ? "true" : "false");
    std::printf("    extended l2: %s\n", d.q.extended_l2 ? "true" : "false");
  }
}

}  // namespace

int info_verb(std::span<const std::string_view> args) {
  enum { kFormat, kOutput, kChain, kShare, kShareLong, kHelp, kHelpLong };
  const ImgOption specs[] = {
      {'f', "", true},           {0, "output", true}, {0, "backing-chain", false}, {'U', "", false},
      {0, "force-share", false}, {'h', "", false},    {0, "help", false}};
  auto parsed = parse_img_args(args, specs, "info", kImageArgs);
  if (!parsed) return fail(parsed.error().message());
  std::string format;
  bool json = false, chain = false;
  for (const auto& [index, value] : parsed->options) {
    if (index == kFormat) {
      if (!take_format_option(value, format)) return kExitError;
    } else if (index == kOutput) {
      if (!take_output_option(value, json)) return kExitError;
    } else if (index == kChain) {
      chain = true;
    } else if (index == kHelp || index == kHelpLong) {
      print_help();
      return 0;
    }
  }
  if (parsed->positional.empty())
    return fail("expecting an image file name (see 'vessel img info --help')");
  if (parsed->positional.size() > 1) {
    return fail("unexpected argument '" + parsed->positional[1] + "'");
  }

  int status = 0;
  auto image_args = take_image_args(*parsed, format, status);
  if (!image_args) return status;
  auto spec = image_args->spec(parsed->positional[0]);
  if (!spec) return fail(spec.error().message());

  auto described = storage::describe_images(
      std::move(*spec), chain ? storage::InfoScope::kBackingChain : storage::InfoScope::kImage);
  if (!described) return fail(described.error().message());
  const std::vector<storage::ImageInfo>& list = *described;

  if (json) {
    if (chain) {
      std::printf("[\n");
      for (size_t k = 0; k < list.size(); ++k) {
        std::printf("%s%s\n", to_json(list[k], "").c_str(), k + 1 < list.size() ? "," : "");
      }
      std::printf("]\n");
    } else {
      std::printf("%s\n", to_json(list[0], "").c_str());
    }
  } else {
    for (size_t k = 0; k < list.size(); ++k) {
      if (k > 0) std::printf("\n");
      print_human(list[k]);
    }
  }
  return 0;
}

}  // namespace vessel::cli::img
