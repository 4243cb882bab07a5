/*
 * cpubench: a small, deterministic CPU benchmark for the Vessel guest.
 *
 * Four phases, each timed with CLOCK_MONOTONIC:
 *   int     integer arithmetic: multiply, divide, remainder, shifts, rotates
 *   memory  array work: streaming passes, strided updates, a random
 *           pointer chase over a buffer larger than any cache/TLB reach
 *   branch  data-dependent branches and an indirect-jump (switch) interpreter
 *   float   double precision: Mandelbrot set, square roots, divisions
 *
 * Every phase folds its results into a 64-bit value; the final checksum
 * depends only on the work done, never on timing, so the same binary must
 * print the same checksum on every correct RV64GC implementation.
 *
 * Output, one line per phase, then the summary line:
 *   cpubench: phase=int ms=812 result=0x...
 *   ...
 *   cpubench: total_ms=2934 checksum=0x...
 *
 * Usage: cpubench [SCALE]   (SCALE multiplies the work of every phase; 1)
 */
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Work per phase at SCALE 1: about 0.5 s each under an emulator (QEMU TCG),
 * 2-3 s in total; about 0.5 s in total natively. Changing any of these
 * changes the checksum (guest/boot-test.py knows the expected one). */
#define INT_ITERATIONS 80000000ul     /* int: loop iterations */
#define MEM_WORDS (1u << 19)          /* memory: 4 MiB of uint64_t ... */
#define MEM_ROUNDS 3u                 /* ... streamed/strided this often */
#define MEM_CHASE 700000ul            /* ... and this many dependent loads */
#define COLLATZ_LIMIT 450000ull       /* branch: Collatz starting values */
#define SEARCHES 900000ul             /* branch: binary searches */
#define PROGRAMS 80000ul              /* branch: interpreted programs */
#define FLOAT_REPEAT 2u               /* float: Mandelbrot frames */
#define FLOAT_ITERATIONS 2000000ul    /* float: sqrt/div/fma iterations */

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Folds a value into a running 64-bit hash (FNV-1a over the 8 bytes). */
static uint64_t mix(uint64_t h, uint64_t v) {
  for (int i = 0; i < 8; i++) {
    h ^= (v >> (8 * i)) & 0xff;
    h *= 0x100000001b3ull;
  }
  return h;
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

/* xorshift64*: deterministic pseudo-random numbers. */
static uint64_t rng_state;
static uint64_t rng(void) {
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return rng_state * 0x2545f4914f6cdd1dull;
}

/* ------------------------------------------------------------------ int -- */
static uint64_t phase_int(unsigned scale) {
  uint64_t a = 0x123456789abcdefull, b = 0xfedcba987654321ull, h = 0;
  uint32_t w = 12345;
  unsigned long n = INT_ITERATIONS * scale;
  for (unsigned long i = 1; i <= n; i++) {
    a = a * 6364136223846793005ull + 1442695040888963407ull;
    b ^= rotl(a, (int)(i & 63) | 1);
    uint64_t d = (b | 1) % 1000003u + 1;      /* 64-bit remainder */
    uint64_t q = a / d;                       /* 64-bit division */
    int64_t s = (int64_t)(a ^ q) >> 7;        /* arithmetic shift */
    w = w * 1103515245u + 12345u;             /* 32-bit wrap (W ops) */
    int32_t sw = (int32_t)w / (int32_t)((i & 0xff) | 1);
    __uint128_t m = (__uint128_t)a * b;       /* mulhu */
    h += (uint64_t)s + (uint64_t)(int64_t)sw + (uint64_t)(m >> 64) + q;
  }
  return mix(mix(h, a), b ^ w);
}

/* --------------------------------------------------------------- memory -- */
static uint64_t phase_memory(unsigned scale) {
  const size_t n = MEM_WORDS;
  uint64_t *buf = malloc(n * sizeof *buf);
  uint32_t *next = malloc(n * sizeof *next);
  if (!buf || !next) {
    perror("cpubench: malloc");
    exit(1);
  }
  uint64_t h = 0;
  rng_state = 0x9e3779b97f4a7c15ull;

  for (size_t i = 0; i < n; i++) buf[i] = rng();

  for (unsigned r = 0; r < MEM_ROUNDS * scale; r++) {
    /* Streaming: prefix-xor pass and a reverse accumulation pass. */
    uint64_t acc = r;
    for (size_t i = 0; i < n; i++) {
      acc ^= buf[i];
      buf[i] = acc + i;
    }
    for (size_t i = n; i-- > 0;) acc += buf[i] >> 3;
    h = mix(h, acc);

    /* Strided: touch one word per 4 KiB page, many pages. */
    for (size_t stride = 512; stride <= 4096; stride *= 2)
      for (size_t start = 0; start < stride; start += 37)
        for (size_t i = start; i < n; i += stride) buf[i] += stride ^ i;

    /* Block copy and compare through libc. */
    memmove(buf + n / 2, buf, (n / 4) * sizeof *buf);
    h = mix(h, (uint64_t)memcmp(buf, buf + n / 2, (n / 4) * sizeof *buf));
  }

  /* Random pointer chase: a single cycle over all n slots (Sattolo). */
  for (size_t i = 0; i < n; i++) next[i] = (uint32_t)i;
  for (size_t i = n - 1; i > 0; i--) {
    size_t j = rng() % i;
    uint32_t t = next[i];
    next[i] = next[j];
    next[j] = t;
  }
  uint32_t p = 0;
  for (unsigned long k = 0; k < MEM_CHASE * scale; k++) {
    p = next[p];
    h += buf[p];
  }
  h = mix(h, p);
  for (size_t i = 0; i < n; i += 4096) h = mix(h, buf[i]);

  free(next);
  free(buf);
  return h;
}

/* --------------------------------------------------------------- branch -- */
enum { OP_ADD, OP_SUB, OP_XOR, OP_SHL, OP_SHR, OP_MUL, OP_JNZ, OP_SWAP, OP_END };

static uint64_t run_program(const uint8_t *code, uint64_t x, uint64_t y) {
  /* A register machine with a switch dispatch loop: indirect jumps. */
  unsigned pc = 0, budget = 200;
  for (;;) {
    uint8_t op = code[pc] >> 4, arg = code[pc] & 15;
    pc++;
    switch (op) {
    case OP_ADD: x += y + arg; break;
    case OP_SUB: x -= y ^ arg; break;
    case OP_XOR: y ^= x >> arg; break;
    case OP_SHL: x <<= arg & 7; break;
    case OP_SHR: y >>= (arg & 7) + 1; break;
    case OP_MUL: x *= (y | 1); break;
    case OP_JNZ:
      if ((y & 3) && budget) {
        budget--;
        pc = arg;
      }
      break;
    case OP_SWAP: { uint64_t t = x; x = y; y = t; } break;
    default: return x ^ rotl(y, 17);
    }
  }
}

static uint64_t phase_branch(unsigned scale) {
  uint64_t h = 0;

  /* Collatz stopping times: unpredictable even/odd branches. */
  uint64_t total_steps = 0, longest = 0, arg_longest = 0;
  for (uint64_t start = 1; start <= COLLATZ_LIMIT * scale; start++) {
    uint64_t x = start, steps = 0;
    while (x != 1) {
      if (x & 1)
        x = 3 * x + 1;
      else
        x >>= 1;
      steps++;
    }
    total_steps += steps;
    if (steps > longest) {
      longest = steps;
      arg_longest = start;
    }
  }
  h = mix(mix(mix(h, total_steps), longest), arg_longest);

  /* Binary searches in a sorted table: branchy, data dependent. */
  static uint32_t table[4096];
  for (unsigned i = 0; i < 4096; i++) table[i] = i * 2654435761u >> 8;
  for (unsigned i = 1; i < 4096; i++) /* insertion sort, nearly random */
    for (unsigned j = i; j > 0 && table[j - 1] > table[j]; j--) {
      uint32_t t = table[j];
      table[j] = table[j - 1];
      table[j - 1] = t;
    }
  rng_state = 42;
  uint64_t found = 0;
  for (unsigned long k = 0; k < SEARCHES * scale; k++) {
    uint32_t key = (uint32_t)rng() >> 8;
    unsigned lo = 0, hi = 4096;
    while (lo < hi) {
      unsigned mid = (lo + hi) / 2;
      if (table[mid] < key)
        lo = mid + 1;
      else
        hi = mid;
    }
    found += lo;
  }
  h = mix(h, found);

  /* Interpreter: random programs through a switch dispatch. */
  uint8_t code[16];
  for (unsigned long k = 0; k < PROGRAMS * scale; k++) {
    for (unsigned i = 0; i < 15; i++) {
      uint8_t op = (uint8_t)(rng() % OP_END);
      uint8_t arg = (uint8_t)(op == OP_JNZ ? rng() % (i + 1) : rng() & 15);
      code[i] = (uint8_t)(op << 4 | arg);
    }
    code[15] = OP_END << 4;
    h = mix(h, run_program(code, k, ~k));
  }
  return h;
}

/* ---------------------------------------------------------------- float -- */
static uint64_t phase_float(unsigned scale) {
  uint64_t h = 0;

  /* Mandelbrot: multiply, add, compare. */
  const int w = 160, ht = 120, max_iter = 200;
  uint64_t iters = 0;
  for (unsigned r = 0; r < FLOAT_REPEAT * scale; r++)
    for (int py = 0; py < ht; py++)
      for (int px = 0; px < w; px++) {
        double cr = -2.2 + 3.0 * px / w + r * 1e-9;
        double ci = -1.2 + 2.4 * py / ht;
        double zr = 0, zi = 0;
        int it = 0;
        while (it < max_iter && zr * zr + zi * zi <= 4.0) {
          double t = zr * zr - zi * zi + cr;
          zi = 2.0 * zr * zi + ci;
          zr = t;
          it++;
        }
        iters += (uint64_t)it;
      }
  h = mix(h, iters);

  /* Square roots, divisions, fused multiply-add, conversions. */
  double acc = 0.0, x = 1.0;
  float accf = 0.0f;
  for (unsigned long k = 1; k <= FLOAT_ITERATIONS * scale; k++) {
    x = x * 1.0000001 + 0.5;
    if (x > 1e6) x = x / 1e6 + 1.0;
    acc += sqrt(x) / (double)k;
    acc = fma(acc, 0.999999, 1e-7 * (double)(k & 1023));
    accf += sqrtf((float)(k & 4095)) / 64.0f;
    if (accf > 1e4f) accf -= 1e4f;
  }
  /* Round to a fixed precision: the checksum must not depend on the host. */
  h = mix(h, (uint64_t)(int64_t)llround(acc * 1e6));
  h = mix(h, (uint64_t)(int64_t)lroundf(accf * 16.0f));
  return h;
}

/* ----------------------------------------------------------------- main -- */
struct phase {
  const char *name;
  uint64_t (*fn)(unsigned);
};

int main(int argc, char **argv) {
  unsigned scale = 1;
  if (argc > 1) {
    char *end;
    unsigned long v = strtoul(argv[1], &end, 10);
    if (*end || v == 0 || v > 1000) {
      fprintf(stderr, "usage: %s [SCALE]   (SCALE 1..1000, default 1)\n", argv[0]);
      return 2;
    }
    scale = (unsigned)v;
  }

  static const struct phase phases[] = {
      {"int", phase_int},
      {"memory", phase_memory},
      {"branch", phase_branch},
      {"float", phase_float},
  };
  uint64_t checksum = 0xcbf29ce484222325ull, total_ns = 0;
  for (size_t i = 0; i < sizeof phases / sizeof phases[0]; i++) {
    uint64_t t0 = now_ns();
    uint64_t r = phases[i].fn(scale);
    uint64_t dt = now_ns() - t0;
    total_ns += dt;
    checksum = mix(checksum, r);
    printf("cpubench: phase=%s ms=%" PRIu64 " result=0x%016" PRIx64 "\n",
           phases[i].name, dt / 1000000u, r);
    fflush(stdout);
  }
  printf("cpubench: total_ms=%" PRIu64 " checksum=0x%016" PRIx64 "\n",
         total_ns / 1000000u, checksum);
  return 0;
}
