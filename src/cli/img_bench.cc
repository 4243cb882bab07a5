// vessel img bench: qemu-img's I/O benchmark. Sends `count` requests of
// `buffer_size` bytes, the first at `offset`, each next one `step_size`
// further on, wrapping at the end of the image (offset modulo image size, as
// qemu-img does), and prints how long they took.
//
// qemu-img keeps `depth` asynchronous requests in flight. Here the requests
// are synchronous calls into the block backend (which is thread-safe), served
// by a pool of threads that each take the next request number: qemu's
// aio=threads model (a pool of threads making pread/pwrite calls), so
// -i threads is what runs, and -n / -i native / -i io_uring, which would ask
// for an AIO engine Vessel does not have, are refused. Through the page cache
// a request is CPU work, so min(depth, host CPUs) threads serve it best; with
// O_DIRECT it waits for the device, so there is a thread per request in
// flight, up to 64, the size of qemu's pool (util/thread-pool.c).
//
// As in qemu-img, the time covers the requests (and the flushes of
// --flush-interval), not opening and closing the image: qemu-img prints it
// before blk_unref(), whose close flushes the image (fdatasync, unless
// -t unsafe) and writes qcow2's cached metadata. The close here does the
// same work after the clock stops.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstring>
#include <thread>
#include <vector>

#include "block/aligned_buffer.h"
#include "cli/img_common.h"
#include "cli/img_image_spec.h"
#include "cli/img_verbs.h"
#include "storage/parallel.h"

namespace vessel::cli::img {
namespace {

void print_help() {
  std::printf(
      "Usage: vessel img bench [-c count] [-d depth] [-f fmt] [--flush-interval=N]\n"
      "                        [--no-drain] [-i aio] [-o offset] [--pattern=N] [-q]\n"
      "                        [-s buffer_size] [-S step_size] [-t cache] [-w] [-U]\n"
      "                        filename\n"
      "\n"
      "Times 'count' read (or, with -w, write) requests of 'buffer_size' bytes. The\n"
      "first is at 'offset', each next one 'step_size' bytes further on, modulo the\n"
      "image size; a request that reaches past the end of the image fails. The time\n"
      "covers the requests, not opening and closing the image (as in qemu-img).\n"
      "\n"
      "Options:\n"
      "  -c count            number of requests (default 75000)\n"
      "  -d depth            requests in flight at once (default 64); served by up\n"
      "                      to one thread per host CPU, or with -t none and\n"
      "                      directsync (O_DIRECT) by one thread per request, up\n"
      "                      to 64\n"
      "  -f fmt              image format: raw or qcow2 (probed when absent)\n"
      "  -o offset           offset of the first request (default 0)\n"
      "  -s buffer_size      bytes per request (default 4096)\n"
      "  -S step_size        distance between requests (default: buffer_size)\n"
      "  -w                  write instead of read (the image is opened read-write)\n"
      "  --pattern=N         byte written by -w (0 to 255, default 0)\n"
      "  --flush-interval=N  with -w: flush after every N requests (N >= depth);\n"
      "                      before each flush the requests in flight complete and\n"
      "                      no new ones start until it is done\n"
      "  --no-drain          with --flush-interval: flush without waiting, while the\n"
      "                      other requests go on (qemu-img's --no-drain)\n"
      "  -t cache            cache mode, as in qemu-img: writeback (default: the host\n"
      "                      page cache, fdatasync when the image is closed),\n"
      "                      writethrough (O_DSYNC: every write durable), none or off\n"
      "                      (O_DIRECT: bypasses the page cache), directsync (O_DIRECT\n"
      "                      and O_DSYNC), unsafe (page cache, never fdatasync). none\n"
      "                      and directsync fail where the file system does not\n"
      "                      support O_DIRECT\n"
      "  -i aio              threads (the only engine: a pool of threads making\n"
      "                      synchronous calls, qemu's aio=threads). native and\n"
      "                      io_uring are refused, and so is -n (native AIO)\n"
      "  -q                  accepted: as in qemu-img, the benchmark's lines (its\n"
      "                      result) are printed all the same\n"
      "  -U                  force share: accepted for compatibility. vessel img takes\n"
      "                      no image locks, so images are always opened shared\n"
      "  -h, --help          show this help\n"
      "\n"
      "Exit status: 0 on success, 1 on any error (bad option, failed request).\n");
  print_image_args_help(kImageOpts);
}

// Threads for O_DIRECT requests at most: qemu's thread pool has 64.
constexpr uint64_t kMaxDirectThreads = 64;

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
  // qemu-img's default: before a flush, wait for the requests in flight and
  // start no new ones until the flush is done. --no-drain: flush while they
  // go on.
  bool drain = true;
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

// Request `i`, through worker `worker`'s slice of `buffers`.
Result<void> run_request(block::BlockBackend& image, const BenchPlan& plan, uint64_t i,
                         size_t worker, block::AlignedBuffer& buffers) {
  std::span<uint8_t> buf = buffers.span().subspan(worker * plan.buffer_size, plan.buffer_size);
  uint64_t pos = request_offset(plan, image.size(), i);
  Result<void> done = plan.write ? image.write(pos, buf) : image.read(pos, buf);
  if (!done) return Error("failed request: " + done.error().message());
  return Ok();
}

// Runs every request on `threads` threads, with the flushes of
// --flush-interval; the first error wins. qemu-img's bench_cb() issues a
// flush each time another `flush_interval` requests have completed: drained,
// it waits for the requests in flight and starts no new ones until the flush
// completes; with --no-drain the flush goes out at once while the other
// requests carry on.
Result<void> run_bench(block::BlockBackend& image, const BenchPlan& plan, unsigned threads,
                       block::AlignedBuffer& buffers) {
  if (plan.flush_interval != 0 && !plan.drain) {
    std::atomic<uint64_t> completed{0};
    return storage::for_each_parallel(
        plan.count, threads, [&](uint64_t i, size_t worker) -> Result<void> {
          TRY(run_request(image, plan, i, worker, buffers));
          if ((completed.fetch_add(1) + 1) % plan.flush_interval == 0) {
            // Only this thread waits for the flush; the others keep sending.
            if (auto r = image.flush(); !r) return Error("failed flush: " + r.error().message());
          }
          return Ok();
        });
  }
  const uint64_t batch = plan.flush_interval != 0 ? plan.flush_interval : plan.count;
  for (uint64_t first = 0; first < plan.count; first += batch) {
    uint64_t last = std::min(plan.count, first + batch);
    TRY(storage::for_each_parallel(last - first, threads, [&](uint64_t k, size_t worker) {
      return run_request(image, plan, first + k, worker, buffers);
    }));
    // for_each_parallel returned: every request of the batch has completed.
    if (plan.flush_interval != 0 && last - first == batch) {
      if (auto r = image.flush(); !r) return Error("failed flush: " + r.error().message());
    }
  }
  return Ok();
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
  // qemu-img bench takes --image-opts but no --object.
  auto parsed = parse_img_args(args, specs, "bench", kImageOpts);
  if (!parsed) return fail(parsed.error().message());
  BenchPlan plan;
  std::string format;
  CacheMode cache;  // qemu-img's default for bench: writeback
  // The only engine there is (see the top of this file).
  const std::string no_aio_engine =
      ": not available: vessel img bench serves requests from a pool of threads making "
      "synchronous calls (qemu's aio=threads, -i threads) and has no native AIO or io_uring "
      "engine";
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
      case kNative:
        return fail("-n (native AIO)" + no_aio_engine);
      case kAio:
        if (value == "native" || value == "io_uring") return fail("-i " + value + no_aio_engine);
        if (value != "threads") {
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
      case kCache: {
        auto mode = parse_cache_mode(value);
        if (!mode) return fail(mode.error().message());
        cache = *mode;
        break;
      }
      case kNoDrain:
        plan.drain = false;
        break;
      case kWrite:
        plan.write = true;
        break;
      case kHelp:
      case kHelpLong:
        print_help();
        return 0;
      default:
        break;  // -q: the lines are the result (as in qemu-img); -U: no locks to share
    }
  }
  const auto& pos = parsed->positional;
  if (auto one = expect_one_image(*parsed, "bench"); !one) return fail(one.error().message());
  int status = 0;
  auto image_args = take_image_args(*parsed, format, status);
  if (!image_args) return status;
  auto spec = image_args->spec(pos[0]);
  if (!spec) return fail(spec.error().message());
  if (!plan.write && plan.flush_interval != 0) {
    return fail("--flush-interval is only available in write tests");
  }
  if (plan.flush_interval != 0 && plan.flush_interval < plan.depth) {
    return fail("flush interval can't be smaller than depth");
  }
  if (plan.step == 0) plan.step = plan.buffer_size;

  auto image = open_image(*spec, plan.write, cache);
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
    return fail(spec->path + ": the image is empty: nothing to read or write");
  }
  const unsigned cpus = std::max(1u, std::thread::hardware_concurrency());
  const bool direct = cache.host_cache == block::HostCache::kDirect ||
                      cache.host_cache == block::HostCache::kDirectSync;
  const unsigned threads =
      static_cast<unsigned>(std::min<uint64_t>(plan.depth, direct ? kMaxDirectThreads : cpus));
  // Aligned as qemu-img's blk_blockalign(), so that with -t none the
  // requests go to the file without a bounce copy when their size allows.
  block::AlignedBuffer buffers(threads * plan.buffer_size);
  std::fill(buffers.span().begin(), buffers.span().end(), plan.pattern);

  auto start = std::chrono::steady_clock::now();
  if (auto r = run_bench(backend, plan, threads, buffers); !r) return fail(r.error().message());
  std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
  std::printf("Run completed in %3.3f seconds.\n", elapsed.count());
  std::fflush(stdout);

  // The close, after the clock as in qemu-img: qcow2 writes its cached
  // metadata, and a written image is flushed (fdatasync unless -t unsafe),
  // unless a drained flush came last and nothing was written since (qemu's
  // bdrv_co_flush() skips a flush when the write generation has not moved).
  const bool flushed_last =
      plan.flush_interval != 0 && plan.drain && plan.count % plan.flush_interval == 0;
  if (image->qcow2 != nullptr) {
    if (auto r = image->qcow2->close(); !r) return fail(r.error().message());
  } else if (plan.write && !flushed_last) {
    if (auto r = backend.flush(); !r) return fail(r.error().message());
  }
  return 0;
}

}  // namespace vessel::cli::img
