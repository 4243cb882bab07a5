// Differential test of the F/D computation against QEMU's soft-float: random
// OP-FP and fused multiply-add instructions with random operands and rounding
// modes run on a real riscv64 user-mode process (qemu-riscv64) and through
// fpu::execute; results and fflags must agree bit for bit.
//
// Needs qemu-riscv64 (Debian qemu-user) and riscv64-linux-gnu-gcc; skips
// without them. VESSEL_FPU_DIFF_CASES sets the number of cases and
// VESSEL_FPU_DIFF_SEED the random seed.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "cpu/riscv/fpu.h"

namespace vessel::cpu::riscv::fpu {
namespace {

// The guest side. Each case becomes "<insn>; ret" in an executable buffer and
// is called with f11-f13 and x5 loaded as sources, frm set, fflags cleared and
// both possible destinations (f10, x6) preset to a marker.
constexpr char kRunnerSource[] = R"(
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
struct Case { uint32_t insn, frm; uint64_t f11, f12, f13, x5; };
struct Result { uint64_t f10, x6, fflags; };
static void run(const uint32_t* code, const struct Case* c, struct Result* r) {
  uint64_t io[8] = {c->f11, c->f12, c->f13, c->x5, c->frm,
                    0x5555555555555555ull, 0x5555555555555555ull, 0};
  __asm__ volatile(
      "fld f11, 0(%0)\n\t"
      "fld f12, 8(%0)\n\t"
      "fld f13, 16(%0)\n\t"
      "ld t0, 24(%0)\n\t"
      "ld t2, 32(%0)\n\t"
      "fsrm t2\n\t"
      "fsflags zero\n\t"
      "fld f10, 40(%0)\n\t"
      "ld t1, 48(%0)\n\t"
      "jalr ra, 0(%1)\n\t"
      "fsd f10, 40(%0)\n\t"
      "sd t1, 48(%0)\n\t"
      "frflags t2\n\t"
      "sd t2, 56(%0)\n\t"
      :
      : "r"(io), "r"(code)
      : "ra", "t0", "t1", "t2", "f10", "f11", "f12", "f13", "memory");
  r->f10 = io[5];
  r->x6 = io[6];
  r->fflags = io[7];
}
int main(void) {
  uint64_t n;
  if (fread(&n, sizeof n, 1, stdin) != 1) return 2;
  struct Case* cases = malloc(n * sizeof *cases);
  struct Result* results = malloc(n * sizeof *results);
  if (!cases || !results || fread(cases, sizeof *cases, n, stdin) != n) return 2;
  uint32_t* code = mmap(0, n * 8, PROT_READ | PROT_WRITE | PROT_EXEC,
                        MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (code == MAP_FAILED) return 3;
  for (uint64_t i = 0; i < n; i++) {
    code[2 * i] = cases[i].insn;
    code[2 * i + 1] = 0x00008067; /* ret */
  }
  __builtin___clear_cache((char*)code, (char*)(code + 2 * n));
  for (uint64_t i = 0; i < n; i++) run(code + 2 * i, &cases[i], &results[i]);
  return fwrite(results, sizeof *results, n, stdout) == n ? 0 : 4;
}
)";

struct Case {
  uint32_t insn, frm;
  uint64_t f11, f12, f13, x5;
};
struct Outputs {
  uint64_t f10, x6, fflags;
  bool operator==(const Outputs&) const = default;
};
static_assert(sizeof(Case) == 40 && sizeof(Outputs) == 24, "layout shared with the runner");

constexpr uint64_t kMarker = 0x5555555555555555;
constexpr unsigned kRd = 10, kRdX = 6, kRs1 = 11, kRs1X = 5, kRs2 = 12, kRs3 = 13;

// What an instruction reads and writes.
enum class Reg : uint8_t { kNone, kS, kD, kX };

struct OpSpec {
  const char* name;
  uint32_t funct5;  // OP-FP funct5, or the R4 major opcode when r4 is set
  bool r4;
  int rs2;       // fixed rs2 field, or -1 for a register operand
  int fixed_rm;  // funct3 for instructions without rounding, or -1
  Reg dst, src1, src2;
};

// Operations for one format; `F` is the format's register kind.
std::vector<OpSpec> ops_for(Reg f) {
  const bool s = f == Reg::kS;
  return {
      {s ? "fadd.s" : "fadd.d", 0x00, false, -1, -1, f, f, f},
      {s ? "fsub.s" : "fsub.d", 0x01, false, -1, -1, f, f, f},
      {s ? "fmul.s" : "fmul.d", 0x02, false, -1, -1, f, f, f},
      {s ? "fdiv.s" : "fdiv.d", 0x03, false, -1, -1, f, f, f},
      {s ? "fsqrt.s" : "fsqrt.d", 0x0b, false, 0, -1, f, f, Reg::kNone},
      {s ? "fsgnj.s" : "fsgnj.d", 0x04, false, -1, 0, f, f, f},
      {s ? "fsgnjn.s" : "fsgnjn.d", 0x04, false, -1, 1, f, f, f},
      {s ? "fsgnjx.s" : "fsgnjx.d", 0x04, false, -1, 2, f, f, f},
      {s ? "fmin.s" : "fmin.d", 0x05, false, -1, 0, f, f, f},
      {s ? "fmax.s" : "fmax.d", 0x05, false, -1, 1, f, f, f},
      {s ? "fcvt.s.d" : "fcvt.d.s", 0x08, false, s ? 1 : 0, -1, f, s ? Reg::kD : Reg::kS,
       Reg::kNone},
      {s ? "fle.s" : "fle.d", 0x14, false, -1, 0, Reg::kX, f, f},
      {s ? "flt.s" : "flt.d", 0x14, false, -1, 1, Reg::kX, f, f},
      {s ? "feq.s" : "feq.d", 0x14, false, -1, 2, Reg::kX, f, f},
      {s ? "fcvt.w.s" : "fcvt.w.d", 0x18, false, 0, -1, Reg::kX, f, Reg::kNone},
      {s ? "fcvt.wu.s" : "fcvt.wu.d", 0x18, false, 1, -1, Reg::kX, f, Reg::kNone},
      {s ? "fcvt.l.s" : "fcvt.l.d", 0x18, false, 2, -1, Reg::kX, f, Reg::kNone},
      {s ? "fcvt.lu.s" : "fcvt.lu.d", 0x18, false, 3, -1, Reg::kX, f, Reg::kNone},
      {s ? "fcvt.s.w" : "fcvt.d.w", 0x1a, false, 0, -1, f, Reg::kX, Reg::kNone},
      {s ? "fcvt.s.wu" : "fcvt.d.wu", 0x1a, false, 1, -1, f, Reg::kX, Reg::kNone},
      {s ? "fcvt.s.l" : "fcvt.d.l", 0x1a, false, 2, -1, f, Reg::kX, Reg::kNone},
      {s ? "fcvt.s.lu" : "fcvt.d.lu", 0x1a, false, 3, -1, f, Reg::kX, Reg::kNone},
      {s ? "fmv.x.w" : "fmv.x.d", 0x1c, false, 0, 0, Reg::kX, f, Reg::kNone},
      {s ? "fclass.s" : "fclass.d", 0x1c, false, 0, 1, Reg::kX, f, Reg::kNone},
      {s ? "fmv.w.x" : "fmv.d.x", 0x1e, false, 0, 0, f, Reg::kX, Reg::kNone},
      {s ? "fmadd.s" : "fmadd.d", 0x43, true, -1, -1, f, f, f},
      {s ? "fmsub.s" : "fmsub.d", 0x47, true, -1, -1, f, f, f},
      {s ? "fnmsub.s" : "fnmsub.d", 0x4b, true, -1, -1, f, f, f},
      {s ? "fnmadd.s" : "fnmadd.d", 0x4f, true, -1, -1, f, f, f},
  };
}

class Generator {
 public:
  explicit Generator(uint64_t seed) : rng_(seed) {}

  uint64_t next() { return rng_(); }
  bool chance(unsigned percent) { return rng_() % 100 < percent; }

  // A register value for format `f`: mostly interesting numbers, singles
  // NaN-boxed except now and then.
  uint64_t operand(Reg f) {
    if (f == Reg::kD) return value(52, 11);
    const uint64_t v = value(23, 8);
    if (chance(3)) return (chance(50) ? rng_() << 32 : 0) | v;  // not NaN-boxed
    return 0xffffffff00000000 | v;
  }

  uint64_t integer() {
    static constexpr uint64_t kSpecial[] = {0,
                                            1,
                                            ~uint64_t{0},
                                            0x7fffffff,
                                            0x80000000,
                                            0xffffffff,
                                            0xffffffff80000000,
                                            0x7fffffffffffffff,
                                            0x8000000000000000,
                                            0x0000000100000000};
    switch (rng_() % 5) {
      case 0:
        return kSpecial[rng_() % std::size(kSpecial)];
      case 1: {  // 2^k plus or minus a little: ties and boundaries
        const uint64_t base = uint64_t{1} << (rng_() % 64);
        const uint64_t delta = rng_() % 5;
        return chance(50) ? base + delta : base - delta;
      }
      case 2:
        return sparse_bits(64);
      case 3:
        return rng_() >> (rng_() % 64);
      default:
        return rng_();
    }
  }

 private:
  // Bits of a binary floating-point value with `frac` fraction bits.
  uint64_t value(int frac, int exp_bits) {
    const int bias = (1 << (exp_bits - 1)) - 1;
    const int exp_max = (1 << exp_bits) - 1;
    const uint64_t frac_mask = (uint64_t{1} << frac) - 1;
    const uint64_t sign = (rng_() & 1) << (frac + exp_bits);
    auto make = [&](int e, uint64_t f) {
      e = std::clamp(e, 0, exp_max);
      return sign | static_cast<uint64_t>(e) << frac | (f & frac_mask);
    };
    switch (rng_() % 10) {
      case 0: {  // zeros, subnormal and normal extremes, infinities, NaNs, one
        const uint64_t quiet = uint64_t{1} << (frac - 1);
        const struct {
          int exp;
          uint64_t frac;
        } kSpecial[] = {
            {0, 0},    {0, 1},       {0, frac_mask},   {1, 0},       {exp_max - 1, frac_mask},
            {bias, 0}, {exp_max, 0}, {exp_max, quiet}, {exp_max, 1}, {exp_max, quiet | rng_()},
        };
        const auto& pick = kSpecial[rng_() % std::size(kSpecial)];
        return make(pick.exp, pick.frac);
      }
      case 1:
        return rng_() >> (63 - frac - exp_bits);  // any bit pattern
      case 2:  // near one, few significant bits: exact results and ties
        return make(bias + static_cast<int>(rng_() % 21) - 10, sparse_bits(frac));
      case 3:  // subnormal and smallest normals
        return make(static_cast<int>(rng_() % 4), rng_());
      case 4:  // largest values
        return make(exp_max - 1 - static_cast<int>(rng_() % 4), chance(30) ? frac_mask : rng_());
      case 5:  // around sqrt(smallest) and sqrt(largest): products near the limits
        return make(bias + (chance(50) ? -bias / 2 : bias / 2) + static_cast<int>(rng_() % 9) - 4,
                    chance(50) ? sparse_bits(frac) : rng_());
      case 6:  // integer-valued and half-integer magnitudes up to 2^66
        return make(bias + static_cast<int>(rng_() % 67),
                    chance(20) ? frac_mask : sparse_bits(frac));
      case 7: {  // p+-few bits apart from one: rounding positions
        return make(bias + static_cast<int>(rng_() % (2 * frac + 8)) - frac - 4, sparse_bits(frac));
      }
      default:
        return make(bias + static_cast<int>(rng_() % 61) - 30, rng_());
    }
  }

  // A few random bits, or a run of ones from the top of `width` bits down.
  uint64_t sparse_bits(int width) {
    uint64_t v = 0;
    for (unsigned i = rng_() % 5; i > 0; --i) v |= uint64_t{1} << (rng_() % width);
    if (chance(20)) {
      const uint64_t all = ~uint64_t{0} >> (64 - width);
      v |= all & (all << (rng_() % width));
    }
    return v;
  }

  std::mt19937_64 rng_;
};

uint32_t encode(const OpSpec& op, uint32_t fmt, uint32_t rm) {
  const uint32_t rd = op.dst == Reg::kX ? kRdX : kRd;
  const uint32_t rs1 = op.src1 == Reg::kX ? kRs1X : kRs1;
  const uint32_t rs2 = op.rs2 >= 0 ? static_cast<uint32_t>(op.rs2) : kRs2;
  const uint32_t funct3 = op.fixed_rm >= 0 ? static_cast<uint32_t>(op.fixed_rm) : rm;
  const uint32_t low = rs2 << 20 | rs1 << 15 | funct3 << 12 | rd << 7;
  if (op.r4) return kRs3 << 27 | fmt << 25 | low | op.funct5;
  return op.funct5 << 27 | fmt << 25 | low | 0x53;
}

bool have(const char* tool) {
  const std::string cmd = std::string("command -v ") + tool + " >/dev/null 2>&1";
  return std::system(cmd.c_str()) == 0;
}

uint64_t env_number(const char* name, uint64_t fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::strtoull(v, nullptr, 0) : fallback;
}

Outputs run_here(const Case& c) {
  uint64_t x[32] = {};
  uint64_t f[32] = {};
  f[kRd] = kMarker;
  x[kRdX] = kMarker;
  f[kRs1] = c.f11;
  f[kRs2] = c.f12;
  f[kRs3] = c.f13;
  x[kRs1X] = c.x5;
  Context ctx{x, f, static_cast<uint8_t>(c.frm), 0};
  if (execute(c.insn, ctx) != Outcome::kOk) return {0, 0, 0xdead};
  return {f[kRd], x[kRdX], ctx.fflags};
}

TEST(FpuQemuDiffTest, MatchesQemuSoftFloat) {
  if (!have("qemu-riscv64") || !have("riscv64-linux-gnu-gcc")) {
    GTEST_SKIP() << "needs qemu-riscv64 (qemu-user) and riscv64-linux-gnu-gcc";
  }
  std::string dir_template = (std::filesystem::temp_directory_path() / "vessel-fpu-XXXXXX");
  ASSERT_NE(mkdtemp(dir_template.data()), nullptr);
  const std::filesystem::path dir = dir_template;
  struct Cleanup {
    std::filesystem::path dir;
    ~Cleanup() { std::filesystem::remove_all(dir); }
  } cleanup{dir};

  std::ofstream(dir / "runner.c") << kRunnerSource;
  const std::string compile = "riscv64-linux-gnu-gcc -static -O1 -march=rv64gc -mabi=lp64d -o '" +
                              (dir / "runner").string() + "' '" + (dir / "runner.c").string() + "'";
  ASSERT_EQ(std::system(compile.c_str()), 0) << compile;

  const uint64_t count = env_number("VESSEL_FPU_DIFF_CASES", 200000);
  const uint64_t seed = env_number("VESSEL_FPU_DIFF_SEED", 1);
  Generator gen(seed);
  std::vector<std::pair<const OpSpec*, uint32_t>> ops;  // op, fmt
  static const std::vector<OpSpec> kSingle = ops_for(Reg::kS), kDouble = ops_for(Reg::kD);
  for (const OpSpec& op : kSingle) ops.emplace_back(&op, 0);
  for (const OpSpec& op : kDouble) ops.emplace_back(&op, 1);

  std::vector<Case> cases(count);
  std::vector<const OpSpec*> case_ops(count);
  for (uint64_t i = 0; i < count; ++i) {
    Case& c = cases[i];
    const auto [op, fmt] = ops[gen.next() % ops.size()];
    case_ops[i] = op;
    static constexpr uint32_t kRms[] = {0, 1, 2, 3, 4, 7};
    c.frm = static_cast<uint32_t>(gen.next() % 5);
    c.insn = encode(*op, fmt, kRms[gen.next() % std::size(kRms)]);
    c.f11 = gen.operand(op->src1 == Reg::kX ? Reg::kD : op->src1);
    c.f12 = gen.operand(op->src2 == Reg::kNone ? Reg::kD : op->src2);
    c.f13 = gen.operand(op->src2 == Reg::kNone ? Reg::kD : op->src2);
    c.x5 = gen.integer();
    // Related operands: cancellation in sums and fused sums.
    const uint64_t sign = fmt == 0 ? uint64_t{1} << 31 : uint64_t{1} << 63;
    if (gen.chance(15) && op->src2 != Reg::kNone) {
      c.f12 = c.f11 ^ (gen.next() % 4) ^ (gen.chance(50) ? sign : 0);
    }
    if (op->r4 && gen.chance(25)) {
      uint64_t product;
      if (fmt == 0) {
        const float p = std::bit_cast<float>(static_cast<uint32_t>(c.f11)) *
                        std::bit_cast<float>(static_cast<uint32_t>(c.f12));
        product = 0xffffffff00000000 | std::bit_cast<uint32_t>(p);
      } else {
        product =
            std::bit_cast<uint64_t>(std::bit_cast<double>(c.f11) * std::bit_cast<double>(c.f12));
      }
      c.f13 = product ^ (gen.next() % 4) ^ (gen.chance(50) ? sign : 0);
    }
  }
  {
    std::ofstream in(dir / "cases.bin", std::ios::binary);
    in.write(reinterpret_cast<const char*>(&count), sizeof count);
    in.write(reinterpret_cast<const char*>(cases.data()),
             static_cast<std::streamsize>(cases.size() * sizeof(Case)));
  }
  const std::string run = "qemu-riscv64 '" + (dir / "runner").string() + "' < '" +
                          (dir / "cases.bin").string() + "' > '" + (dir / "results.bin").string() +
                          "'";
  ASSERT_EQ(std::system(run.c_str()), 0) << run;
  std::vector<Outputs> expected(count);
  {
    std::ifstream out(dir / "results.bin", std::ios::binary);
    out.read(reinterpret_cast<char*>(expected.data()),
             static_cast<std::streamsize>(expected.size() * sizeof(Outputs)));
    ASSERT_EQ(static_cast<uint64_t>(out.gcount()), count * sizeof(Outputs));
  }

  uint64_t mismatches = 0;
  uint64_t flag_counts[5] = {};
  for (uint64_t i = 0; i < count; ++i) {
    const Case& c = cases[i];
    const Outputs got = run_here(c);
    for (int b = 0; b < 5; ++b) flag_counts[b] += (expected[i].fflags >> b) & 1;
    if (got == expected[i]) continue;
    if (++mismatches <= 20) {
      char line[320];
      std::snprintf(
          line, sizeof line,
          "%s (insn %08x frm %u) f11 %016llx f12 %016llx f13 %016llx x5 %016llx: qemu f10 "
          "%016llx x6 %016llx flags %02llx, here f10 %016llx x6 %016llx flags %02llx",
          case_ops[i]->name, c.insn, c.frm, static_cast<unsigned long long>(c.f11),
          static_cast<unsigned long long>(c.f12), static_cast<unsigned long long>(c.f13),
          static_cast<unsigned long long>(c.x5), static_cast<unsigned long long>(expected[i].f10),
          static_cast<unsigned long long>(expected[i].x6),
          static_cast<unsigned long long>(expected[i].fflags),
          static_cast<unsigned long long>(got.f10), static_cast<unsigned long long>(got.x6),
          static_cast<unsigned long long>(got.fflags));
      ADD_FAILURE() << line;
    }
  }
  std::printf("%llu cases (seed %llu); flags raised: NX %llu UF %llu OF %llu DZ %llu NV %llu\n",
              static_cast<unsigned long long>(count), static_cast<unsigned long long>(seed),
              static_cast<unsigned long long>(flag_counts[0]),
              static_cast<unsigned long long>(flag_counts[1]),
              static_cast<unsigned long long>(flag_counts[2]),
              static_cast<unsigned long long>(flag_counts[3]),
              static_cast<unsigned long long>(flag_counts[4]));
  EXPECT_EQ(mismatches, 0u);
}

}  // namespace
}  // namespace vessel::cpu::riscv::fpu
