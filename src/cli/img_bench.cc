// vessel img bench: qemu-img's I/O benchmark. Sends `count` requests of
// `buffer_size` bytes, the first at `offset`, each next one `step_size`
// further on, wrapping at the end of the image (offset modulo image size, as
// qemu-img does), and prints how long they took.
//
// qemu-img keeps `depth` asynchronous requests in flight. Here the requests
// are synchronous calls into the block backend (which is thread-safe), served
// by min(depth, host CPUs) threads that each take the next request number.
// Flushes (--flush-interval) are taken between batches of that many requests,
// so --no-drain changes nothing.
#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstring>
#include <thread>
#include <vector>

#include "cli/img_common.h"
#include "cli/img_parallel.h"
#include "cli/img_verbs.h"

namespace vessel::cli::img {
namespace {

void print_help() {
  std::printf(
      "Usage: vessel img bench [-c count] [-d depth] [-f fmt] [--flush-interval=N]\n"
      "                        [--no-drain] [-n] [-i aio] [-o offset] [--pattern=N] [-q]\n"
      "                        [-s buffer_size] [-S step_size] [-t cache] [-w] [-U]\n"
      "                        filename\n"
      "\n"
      "Times 'count' read (or, with -w, write) requests of 'buffer_size' bytes. The\n"
      "first is at 'offset', each next one 'step_size' bytes further on, modulo the\n"
      "image size; a request that reaches past the end of the image fails.\n"
      "\n"
      "Options:\n"
      "  -c count            number of requests (default 75000)\n"
      "  -d depth            requests in flight at once (default 64); served by up\n"
      "                      to one thread per host CPU\n"
      "  -f fmt              image format: raw or qcow2 (probed when absent)\n"
      "  -o offset           offset of the first request (default 0)\n"
      "  -s buffer_size      bytes per request (default 4096)\n"
      "  -S step_size        distance between requests (default: buffer_size)\n"
      "  -w                  write instead of read (the image is opened read-write)\n"
      "  --pattern=N         byte written by -w (0 to 255, default 0)\n"
      "  --flush-interval=N  with -w: flush after every N requests (N >= depth)\n"
      "  --no-drain          accepted for compatibility: flushes always wait for the\n"
      "                      requests before them\n"
      "  -n, -i aio, -t cache\n"
      "                      accepted for compatibility (checked, then ignored): I/O\n"
      "                      always goes through the host page cache with pread and\n"
      "                      pwrite\n"
      "  -q                  quiet (the benchmark lines are printed anyway, like\n"
      "                      qemu-img)\n"
      "  -U                  accepted for compatibility (images are not locked)\n"
      "  -h, --help          show this help\n"
      "\n"
      "Exit status: 0 on success, 1 on any error (bad option, failed request).\n");
}

// qemu_strtoul with base 0: decimal, 0x hex or 0 octal, the whole string.
bool parse_number(const std::string& text, unsigned long long max, uint64_t* out) {
  if (text.empty() || text[0] == '-') return false;
  char* end = nullptr;
  errno = 0;
  unsigned long long value = std::strtoull(text.c_str(), &end, 0);
  if (errno != 0 || *end != '\0' || value > max) return false;
  *out = value;
  return true;
}

struct BenchPlan {
  uint64_t count = 75000;
  uint64_t depth = 64;
  uint64_t offset = 0;
  uint64_t buffer_size = 4096;
  uint64_t step = 0;
  uint64_t flush_interval = 0;
  uint8_t pattern = 0;
  bool write = false;
};

// The offset of request `i`: qemu-img adds the step and takes the result
// modulo the image size after each request, so only the first one may lie
// past the end.
uint64_t request_offset(const BenchPlan& plan, uint64_t image_size, uint64_t i) {
  if (i == 0) return plan.offset;
  unsigned __int128 pos =
      static_cast<unsigned __int128>(plan.offset) + static_cast<unsigned __int128>(plan.step) * i;
  return static_cast<uint64_t>(pos % image_size);
}

// Runs requests [first, last) on `threads` threads; the first error wins.
Result<void> run_requests(block::BlockBackend& image, const BenchPlan& plan, uint64_t first,
                          uint64_t last, unsigned threads, std::vector<uint8_t>& buffers) {
  const uint64_t image_size = image.size();
  return for_each_parallel(last - first, threads, [&](uint64_t k, size_t worker) {
    std::span<uint8_t> buf(buffers.data() + worker * plan.buffer_size, plan.buffer_size);
    uint64_t pos = request_offset(plan, image_size, first + k);
    return plan.write ? image.write(pos, buf) : image.read(pos, buf);
  });
}

}  // namespace

int bench_verb(std::span<const std::string_view> args) {
  enum {
    kCount,
    kDepth,
    kFormat,
    kFlushInterval,
    kNoDrain,
    kNative,
    kAio,
    kOffset,
    kPattern,
    kQuiet,
    kBufferSize,
    kStep,
    kCache,
    kWrite,
    kShare,
    kHelp,
    kHelpLong
  };
  const ImgOption specs[] = {{'c', "", true},
                             {'d', "", true},
                             {'f', "", true},
                             {0, "flush-interval", true},
                             {0, "no-drain", false},
                             {'n', "", false},
                             {'i', "", true},
                             {'o', "", true},
                             {0, "pattern", true},
                             {'q', "", false},
                             {'s', "", true},
                             {'S', "", true},
                             {'t', "", true},
                             {'w', "", false},
                             {'U', "force-share", false},
                             {'h', "", false},
                             {0, "help", false}};
  auto parsed = parse_img_args(args, specs, "bench");
  if (!parsed) return fail(parsed.error().message());
  BenchPlan plan;
  std::string format;
  for (const auto& [index, value] : parsed->options) {
    switch (index) {
      case kCount:
        if (!parse_number(value, INT_MAX, &plan.count)) {
          return fail("invalid request count '" + value + "'");
        }
        break;
      case kDepth:
        if (!parse_number(value, INT_MAX, &plan.depth) || plan.depth == 0) {
          return fail("invalid queue depth '" + value + "'");
        }
        break;
      case kFormat: {
        if (!take_format_option(value, format)) return kExitError;
        break;
      }
      case kFlushInterval:
        if (!parse_number(value, INT_MAX, &plan.flush_interval)) {
          return fail("invalid flush interval '" + value + "'");
        }
        break;
      case kAio:
        if (value != "threads" && value != "native" && value != "io_uring") {
          return fail("invalid aio option '" + value + "' (threads, native or io_uring)");
        }
        break;
      case kOffset: {
        auto o = parse_img_size(value);
        if (!o) return fail("-o: " + o.error().message());
        plan.offset = *o;
        break;
      }
      case kPattern: {
        uint64_t p = 0;
        if (!parse_number(value, 0xff, &p)) return fail("invalid pattern byte '" + value + "'");
        plan.pattern = static_cast<uint8_t>(p);
        break;
      }
      case kBufferSize:
      case kStep: {
        auto s = parse_img_size(value);
        const char* what = index == kBufferSize ? "buffer size" : "step size";
        if (!s) return fail(std::string(what) + ": " + s.error().message());
        if (*s > INT_MAX) return fail(std::string(what) + " '" + value + "' is too large");
        (index == kBufferSize ? plan.buffer_size : plan.step) = *s;
        break;
      }
      case kCache:
        if (auto mode = parse_cache_mode(value); !mode) return fail(mode.error().message());
        break;
      case kWrite:
        plan.write = true;
        break;
      case kHelp:
      case kHelpLong:
        print_help();
        return 0;
      default:
        break;  // -q, -n, -U, --no-drain: nothing to do
    }
  }
  const auto& pos = parsed->positional;
  if (auto one = expect_one_image(*parsed, "bench"); !one) return fail(one.error().message());
  const std::string& path = pos[0];
  if (!plan.write && plan.flush_interval != 0) {
    return fail("--flush-interval is only available in write tests");
  }
  if (plan.flush_interval != 0 && plan.flush_interval < plan.depth) {
    return fail("flush interval can't be smaller than depth");
  }
  if (plan.step == 0) plan.step = plan.buffer_size;

  auto image = open_image(path, format, plan.write);
  if (!image) return fail(image.error().message());
  block::BlockBackend& backend = *image->backend;

  std::printf(
      "Sending %llu %s requests, %llu bytes each, %llu in parallel (starting at offset %llu, "
      "step size %llu)\n",
      static_cast<unsigned long long>(plan.count), plan.write ? "write" : "read",
      static_cast<unsigned long long>(plan.buffer_size),
      static_cast<unsigned long long>(plan.depth), static_cast<unsigned long long>(plan.offset),
      static_cast<unsigned long long>(plan.step));
  if (plan.flush_interval != 0) {
    std::printf("Sending flush every %llu requests\n",
                static_cast<unsigned long long>(plan.flush_interval));
  }
  std::fflush(stdout);

  // A request past the end fails; an empty image has no offsets to wrap to.
  if (backend.size() == 0 && plan.count > 0) {
    return fail(path + ": the image is empty: nothing to read or write");
  }
  const unsigned cpus = std::max(1u, std::thread::hardware_concurrency());
  const unsigned threads = static_cast<unsigned>(std::min<uint64_t>(plan.depth, cpus));
  std::vector<uint8_t> buffers(threads * plan.buffer_size, plan.pattern);

  auto start = std::chrono::steady_clock::now();
  const uint64_t batch = plan.flush_interval != 0 ? plan.flush_interval : plan.count;
  for (uint64_t first = 0; first < plan.count; first += batch) {
    uint64_t last = std::min(plan.count, first + batch);
    if (auto r = run_requests(backend, plan, first, last, threads, buffers); !r) {
      return fail("failed request: " + r.error().message());
    }
    if (plan.flush_interval != 0 && last - first == batch) {
      if (auto r = backend.flush(); !r) return fail("failed flush: " + r.error().message());
    }
  }
  if (image->qcow2 != nullptr) {
    // Closing writes the metadata of a write test; it belongs to the run.
    if (auto r = image->qcow2->close(); !r) return fail(r.error().message());
  }
  std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
  std::printf("Run completed in %3.3f seconds.\n", elapsed.count());
  return 0;
}

}  // namespace vessel::cli::img
