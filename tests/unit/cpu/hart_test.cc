#include <atomic>
#include <chrono>
#include <thread>

#include "hart_fixture.h"
#include "rv_asm.h"

namespace vessel::cpu::riscv {
namespace {

using namespace test_asm;

constexpr unsigned kMstatus = 0x300, kMedeleg = 0x302, kMie = 0x304, kMtvec = 0x305, kMepc = 0x341,
                   kMcause = 0x342, kMtval = 0x343, kStvec = 0x105, kScause = 0x142, kSatp = 0x180,
                   kPmpcfg0 = 0x3a0, kPmpaddr0 = 0x3b0;

// Loads a 64-bit constant into a register with lui/addi pairs and shifts.
std::vector<uint32_t> li(unsigned rd, uint64_t value) {
  // 11 bits at a time, so ORI's sign-extended immediate is never negative.
  std::vector<uint32_t> out{addi(rd, 0, 0)};
  for (int shift = 55; shift >= 0; shift -= 11) {
    out.push_back(i(0x13, 1, rd, rd, 11));  // slli rd, rd, 11
    out.push_back(i(0x13, 6, rd, rd, static_cast<int32_t>((value >> shift) & 0x7ff)));  // ori
  }
  return out;
}

class Program {
 public:
  Program& op(uint32_t insn) {
    words.push_back(insn);
    return *this;
  }
  Program& load_imm(unsigned rd, uint64_t value) {
    for (uint32_t w : li(rd, value)) words.push_back(w);
    return *this;
  }
  uint64_t here() const { return kRamBase + 4 * words.size(); }
  std::vector<uint32_t> words;
};

// M-mode code that opens PMP to everything, sends traps to M at +0x4000,
// turns on Sv39 with `root` and drops to S-mode at kRamBase + 0x3000.
Program enter_supervisor_sv39(uint64_t root) {
  Program p;
  p.load_imm(1, ~uint64_t{0} >> 10).op(csrrw(0, kPmpaddr0, 1));
  p.op(addi(1, 0, 0x1f)).op(csrrw(0, kPmpcfg0, 1));
  p.load_imm(1, kRamBase + 0x4000).op(csrrw(0, kMtvec, 1));
  p.load_imm(1, (uint64_t{8} << 60) | (root >> 12)).op(csrrw(0, kSatp, 1));
  p.load_imm(1, kRamBase + 0x3000).op(csrrw(0, kMepc, 1));
  p.load_imm(1, uint64_t{1} << 11).op(csrrw(0, kMstatus, 1));  // MPP = S
  p.op(kMret);
  return p;
}

class HartRun : public HartTest {
 protected:
  void load(const Program& p, uint64_t at = kRamBase) {
    for (size_t k = 0; k < p.words.size(); ++k) {
      std::memcpy(bus.ram_ptr(at + 4 * k, 4), &p.words[k], 4);
    }
  }
};

TEST_F(HartRun, ArithmeticAndHardwiredZero) {
  Program p;
  p.op(addi(0, 0, 5)).op(addi(1, 0, -1)).op(add(2, 1, 1));
  load(p);
  hart.run(3);
  EXPECT_EQ(hart.reg(0), 0u);
  EXPECT_EQ(hart.reg(1), ~uint64_t{0});
  EXPECT_EQ(hart.reg(2), static_cast<uint64_t>(-2));
  EXPECT_EQ(hart.pc(), kRamBase + 12);
  EXPECT_EQ(hart.instret(), 3u);
}

TEST_F(HartRun, LoadImmediateHelperAndLoop) {
  Program p;
  p.load_imm(5, 0x123456789abcdef0).op(addi(6, 0, 10)).op(addi(7, 0, 0));
  uint64_t loop = p.here();
  p.op(addi(7, 7, 3)).op(addi(6, 6, -1));
  p.op(bne(6, 0, static_cast<int32_t>(loop - p.here())));
  load(p);
  hart.run(p.words.size() + 40);
  EXPECT_EQ(hart.reg(5), 0x123456789abcdef0u);
  EXPECT_EQ(hart.reg(7), 30u);
}

TEST_F(HartRun, CompressedInstructionsExpand) {
  // c.li a0, 5 ; c.addi a0, 3 ; c.slli a0, 2
  uint16_t insns[] = {0x4515, 0x050d, 0x050a};
  std::memcpy(bus.ram_ptr(kRamBase, sizeof insns), insns, sizeof insns);
  hart.run(3);
  EXPECT_EQ(hart.reg(10), 32u);
  EXPECT_EQ(hart.pc(), kRamBase + 6);
}

TEST_F(HartRun, EcallTrapsToMtvecWithCauseAndEpc) {
  Program p;
  p.load_imm(1, kRamBase + 0x1000).op(csrrw(0, kMtvec, 1));
  uint64_t ecall_at = p.here();
  p.op(kEcall);
  load(p);
  Program handler;
  handler.op(csrrs(5, kMcause, 0)).op(csrrs(6, kMepc, 0)).op(csrrs(7, kMtval, 0));
  load(handler, kRamBase + 0x1000);
  hart.run(p.words.size() + 3);
  EXPECT_EQ(hart.reg(5), 11u);  // environment call from M-mode
  EXPECT_EQ(hart.reg(6), ecall_at);
  EXPECT_EQ(hart.reg(7), 0u);
}

TEST_F(HartRun, UnmappedPhysicalLoadIsAnAccessFaultInTheGuest) {
  Program p;
  p.load_imm(1, kRamBase + 0x1000).op(csrrw(0, kMtvec, 1));
  p.load_imm(2, 0x40000000).op(ld(3, 2, 8));
  load(p);
  Program handler;
  handler.op(csrrs(5, kMcause, 0)).op(csrrs(6, kMtval, 0));
  load(handler, kRamBase + 0x1000);
  hart.run(p.words.size() + 2);
  EXPECT_EQ(hart.reg(5), 5u);  // load access fault
  EXPECT_EQ(hart.reg(6), 0x40000008u);
}

TEST_F(HartRun, UserEcallIsDelegatedToSupervisor) {
  Program p;
  // PMP: one NAPOT entry granting RWX on everything, so S and U may run.
  p.load_imm(1, ~uint64_t{0} >> 10).op(csrrw(0, kPmpaddr0, 1));
  p.op(addi(1, 0, 0x1f)).op(csrrw(0, kPmpcfg0, 1));
  p.op(addi(1, 0, 1 << 8)).op(csrrw(0, kMedeleg, 1));  // delegate ecall from U
  p.load_imm(1, kRamBase + 0x2000).op(csrrw(0, kStvec, 1));
  p.load_imm(1, kRamBase + 0x3000).op(csrrw(0, kMepc, 1));
  p.op(csrrw(0, kMstatus, 0));  // MPP = U
  p.op(kMret);
  load(p);
  Program user;
  user.op(addi(9, 0, 42)).op(kEcall);
  load(user, kRamBase + 0x3000);
  Program supervisor;
  supervisor.op(csrrs(5, kScause, 0));
  load(supervisor, kRamBase + 0x2000);
  hart.run(p.words.size() + 3);
  EXPECT_EQ(hart.reg(9), 42u);
  EXPECT_EQ(hart.reg(5), 8u);  // environment call from U-mode, handled in S
  EXPECT_EQ(hart.privilege(), Priv::kSupervisor);
}

TEST_F(HartRun, Sv39TranslationSetsAccessedAndDirtyBitsAndFaults) {
  const uint64_t root = kRamBase + 0x100000;
  // root[2]: identity gigapage for the code (RWX, A, D); root[1]: VA 0x40000000
  // -> PA 0x80000000, RW, with A and D clear.
  poke64(root + 2 * 8, (kRamBase >> 12) << 10 | 0xcf);
  poke64(root + 1 * 8, (kRamBase >> 12) << 10 | 0x07);
  poke64(kRamBase + 0x200000, 0x1122334455667788);
  Program p = enter_supervisor_sv39(root);
  load(p);
  Program s_code;
  s_code.load_imm(2, 0x40200000).op(ld(3, 2, 0));  // read through the new mapping
  s_code.op(sd(3, 2, 8));                          // write: sets D
  s_code.op(ld(4, 0, 16));                         // VA 0x10: unmapped, page fault
  load(s_code, kRamBase + 0x3000);
  Program m_handler;
  m_handler.op(csrrs(5, kMcause, 0)).op(csrrs(6, kMtval, 0));
  load(m_handler, kRamBase + 0x4000);

  hart.run(p.words.size() + s_code.words.size() - 1);
  EXPECT_EQ(hart.reg(3), 0x1122334455667788u);
  EXPECT_EQ(peek64(kRamBase + 0x200008), 0x1122334455667788u);
  uint64_t pte = peek64(root + 8);
  EXPECT_TRUE(pte & 0x40) << "accessed bit set by the load";
  EXPECT_TRUE(pte & 0x80) << "dirty bit set by the store";
  hart.run(3);
  EXPECT_EQ(hart.reg(5), 13u);  // load page fault
  EXPECT_EQ(hart.reg(6), 16u);
}

// mstatus.SUM lets S-mode reach user pages. A translation cached while SUM
// was set must not serve an access after SUM is cleared (the TLB keeps a
// view per SUM setting rather than flushing on every flip).
TEST_F(HartRun, ClearingSumFaultsSupervisorAccessToAUserPageCachedBefore) {
  constexpr unsigned kSstatus = 0x100;
  const uint64_t root = kRamBase + 0x100000;
  poke64(root + 2 * 8, (kRamBase >> 12) << 10 | 0xcf);  // code: identity, RWX, not U
  poke64(root + 1 * 8, (kRamBase >> 12) << 10 | 0xd7);  // VA 0x40000000: U, RW, A, D
  poke64(kRamBase + 0x200000, 0x5555aaaa5555aaaa);
  Program p = enter_supervisor_sv39(root);
  load(p);
  Program s_code;
  s_code.load_imm(2, 0x40200000).load_imm(7, uint64_t{1} << 18);
  s_code.op(csrrs(0, kSstatus, 7)).op(ld(3, 2, 0));  // SUM = 1: allowed
  s_code.op(csrrc(0, kSstatus, 7)).op(ld(4, 2, 0));  // SUM = 0: page fault
  load(s_code, kRamBase + 0x3000);
  Program m_handler;
  m_handler.op(csrrs(5, kMcause, 0)).op(csrrs(6, kMtval, 0));
  load(m_handler, kRamBase + 0x4000);

  hart.run(p.words.size() + s_code.words.size() + 2);
  EXPECT_EQ(hart.reg(3), 0x5555aaaa5555aaaau);
  EXPECT_EQ(hart.reg(4), 0u);
  EXPECT_EQ(hart.reg(5), 13u);  // load page fault
  EXPECT_EQ(hart.reg(6), 0x40200000u);
}

// S-mode remaps a page it has used and fences that one address: the next
// access goes through the new mapping.
TEST_F(HartRun, SfenceVmaWithAnAddressDropsItsOldTranslation) {
  const uint64_t root = kRamBase + 0x100000, mid = root + 0x1000, leaf = root + 0x2000;
  poke64(root + 2 * 8, (kRamBase >> 12) << 10 | 0xcf);  // code and tables: identity, RWX
  poke64(root + 1 * 8, (mid >> 12) << 10 | 0x01);       // VA 0x40000000: next level
  poke64(mid, (leaf >> 12) << 10 | 0x01);
  const uint64_t old_page = kRamBase + 0x200000, new_page = kRamBase + 0x201000;
  poke64(leaf, (old_page >> 12) << 10 | 0xc7);  // VA 0x40000000 -> old_page, RW, A, D
  poke64(old_page, 1);
  poke64(new_page, 2);
  Program p = enter_supervisor_sv39(root);
  load(p);
  Program s_code;
  s_code.load_imm(2, 0x40000000).op(ld(3, 2, 0));  // cached: old_page
  s_code.load_imm(7, leaf).load_imm(8, (new_page >> 12) << 10 | 0xc7);
  s_code.op(sd(8, 7, 0)).op(sfence_vma(2, 0)).op(ld(4, 2, 0));  // remapped, fenced
  load(s_code, kRamBase + 0x3000);

  hart.run(p.words.size() + s_code.words.size());
  EXPECT_EQ(hart.reg(3), 1u);
  EXPECT_EQ(hart.reg(4), 2u) << "the old translation of the fenced address survived";
}

// A megapage's 4 KiB pieces are cached under their own page numbers; a
// fence of the megapage's address must drop all of them.
TEST_F(HartRun, SfenceVmaWithAMegapageAddressDropsEveryPieceOfIt) {
  const uint64_t root = kRamBase + 0x100000, mid = root + 0x1000;
  poke64(root + 2 * 8, (kRamBase >> 12) << 10 | 0xcf);
  poke64(root + 1 * 8, (mid >> 12) << 10 | 0x01);
  const uint64_t old_mega = kRamBase + 0x200000, new_mega = kRamBase + 0x400000;
  poke64(mid, (old_mega >> 12) << 10 | 0xc7);  // VA 0x40000000: a 2 MiB megapage
  poke64(old_mega + 0x1000, 1);
  poke64(new_mega + 0x1000, 2);
  Program p = enter_supervisor_sv39(root);
  load(p);
  Program s_code;
  s_code.load_imm(2, 0x40000000).op(ld(3, 2, 0));         // the first 4 KiB piece
  s_code.op(lui(9, 1)).op(add(9, 9, 2)).op(ld(3, 9, 0));  // and the second, cached
  s_code.load_imm(7, mid).load_imm(8, (new_mega >> 12) << 10 | 0xc7);
  s_code.op(sd(8, 7, 0)).op(sfence_vma(2, 0)).op(ld(4, 9, 0));  // fence the first piece
  load(s_code, kRamBase + 0x3000);

  hart.run(p.words.size() + s_code.words.size());
  EXPECT_EQ(hart.reg(3), 1u);
  EXPECT_EQ(hart.reg(4), 2u) << "a piece of the old megapage survived the fence";
}

TEST_F(HartRun, TimerInterruptIsTakenWhenEnabled) {
  Program p;
  p.load_imm(1, kRamBase + 0x1000).op(csrrw(0, kMtvec, 1));
  p.op(addi(1, 0, 1 << 7)).op(csrrw(0, kMie, 1));      // MTIE
  p.op(addi(1, 0, 1 << 3)).op(csrrw(0, kMstatus, 1));  // MIE
  uint64_t spin = p.here();
  p.op(addi(9, 9, 1)).op(b(0, 0, 0, static_cast<int32_t>(spin - (p.here()))));
  load(p);
  Program handler;
  handler.op(csrrs(5, kMcause, 0));
  load(handler, kRamBase + 0x1000);
  hart.run(p.words.size() + 20);
  EXPECT_GT(hart.reg(9), 0u);
  EXPECT_EQ(hart.reg(5), 0u);
  hart.set_interrupt_pending(kMtip, true);
  hart.run(2);
  EXPECT_EQ(hart.reg(5), (uint64_t{1} << 63) | 7);
}

TEST_F(HartRun, WfiSleepsUntilAnInterruptIsPending) {
  Program p;
  p.op(addi(1, 0, 1 << 7)).op(csrrw(0, kMie, 1)).op(kWfi).op(addi(2, 0, 7));
  load(p);
  EXPECT_EQ(hart.run(100), RunExit::kWaitForInterrupt);
  auto start = std::chrono::steady_clock::now();
  std::thread waker([this] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    hart.set_interrupt_pending(kMtip, true);
  });
  hart.wait_for_interrupt(clock, [] { return UINT64_MAX; });
  waker.join();
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(40));
  hart.run(1);  // MIE is clear: execution continues after the WFI
  EXPECT_EQ(hart.reg(2), 7u);
}

TEST_F(HartRun, WfiWaitEndsAtTheDeadline) {
  Program p;
  p.op(kWfi);
  load(p);
  EXPECT_EQ(hart.run(10), RunExit::kWaitForInterrupt);
  auto start = std::chrono::steady_clock::now();
  uint64_t deadline = clock.ticks() + GuestClock::kFrequency / 20;  // 50 ms
  hart.wait_for_interrupt(clock, [deadline] { return deadline; });
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(40));
}

// Another hart moves this one's timer 100 s → 50 ms away while it sleeps:
// it wakes at the new deadline, not the one it read before sleeping.
TEST_F(HartRun, WfiWaitFollowsADeadlineMovedEarlier) {
  Program p;
  p.op(kWfi);
  load(p);
  EXPECT_EQ(hart.run(10), RunExit::kWaitForInterrupt);
  std::atomic<uint64_t> deadline = clock.ticks() + 100 * GuestClock::kFrequency;
  auto start = std::chrono::steady_clock::now();
  std::thread mover([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    deadline = clock.ticks() + GuestClock::kFrequency / 20;
    hart.retime();
  });
  hart.wait_for_interrupt(clock, [&] { return deadline.load(); });
  mover.join();
  auto slept = std::chrono::steady_clock::now() - start;
  EXPECT_GE(slept, std::chrono::milliseconds(60));
  EXPECT_LT(slept, std::chrono::seconds(10));
}

TEST_F(HartRun, MisalignedLoadAcrossAPageIsPerformed) {
  poke64(kRamBase + 0x1ff8, 0x8877665544332211);
  poke64(kRamBase + 0x2000, 0x00000000ccbbaa99);
  Program p;
  p.load_imm(1, kRamBase + 0x1ffc).op(ld(2, 1, 0));
  load(p);
  hart.run(p.words.size());
  EXPECT_EQ(hart.reg(2), 0xccbbaa9988776655u);
}

TEST_F(HartRun, FenceIMakesNewCodeVisible) {
  Program p;
  uint64_t target = kRamBase + 0x1000;
  p.load_imm(1, target);
  p.op(i(0x67, 0, 10, 1, 0));  // jalr ra=x10, 0(x1): run the old code
  p.load_imm(2, addi(5, 0, 2)).op(sw(2, 1, 0)).op(kFenceI);
  p.op(i(0x67, 0, 10, 1, 0));  // run the new code
  load(p);
  Program old_code;
  old_code.op(addi(5, 0, 1)).op(i(0x67, 0, 0, 10, 0));  // jalr x0, 0(x10)
  load(old_code, target);
  hart.run(p.words.size() - 1 + 2 - 1);
  EXPECT_EQ(hart.reg(5), 1u);
  hart.run(100);
  EXPECT_EQ(hart.reg(5), 2u);
}

TEST_F(HartRun, ExecuteAndLoadTriggersRaiseBreakpoints) {
  constexpr unsigned kTdata1 = 0x7a1, kTdata2 = 0x7a2;
  constexpr uint64_t kMcontrolM = 1 << 6, kExecute = 1 << 2, kLoad = 1;
  uint64_t target = kRamBase + 0x2000;
  Program p;
  p.load_imm(1, kRamBase + 0x1000).op(csrrw(0, kMtvec, 1));
  p.load_imm(1, target).op(csrrw(0, kTdata2, 1));
  p.load_imm(2, kMcontrolM | kExecute).op(csrrw(0, kTdata1, 2));
  p.op(csrrs(4, kTdata1, 0));
  p.op(i(0x67, 0, 0, 1, 0));  // jalr x0, 0(x1): jump to the watched address
  load(p);
  Program handler;
  handler.op(csrrs(5, kMcause, 0)).op(csrrs(6, kMepc, 0)).op(csrrs(7, kMtval, 0));
  handler.op(b(0, 0, 0, 0));  // spin
  load(handler, kRamBase + 0x1000);
  hart.run(p.words.size() + 10);
  EXPECT_EQ(hart.reg(4) >> 60, 2u) << "mcontrol trigger type";
  EXPECT_EQ(hart.reg(5), 3u);  // breakpoint, before the instruction runs
  EXPECT_EQ(hart.reg(6), target);
  EXPECT_EQ(hart.reg(7), target);

  // A load trigger on a data address.
  hart.reset(kRamBase);
  Program q;
  q.load_imm(1, kRamBase + 0x1000).op(csrrw(0, kMtvec, 1));
  q.load_imm(1, kRamBase + 0x3008).op(csrrw(0, kTdata2, 1));
  q.load_imm(2, kMcontrolM | kLoad).op(csrrw(0, kTdata1, 2));
  q.op(ld(3, 1, -8)).op(ld(3, 1, 0));
  load(q);
  hart.run(q.words.size() + 10);
  EXPECT_EQ(hart.reg(5), 3u);
  EXPECT_EQ(hart.reg(7), kRamBase + 0x3008);
}

TEST(HartSmp, AtomicsAreAtomicAcrossHarts) {
  memory::AddressSpace bus;
  ASSERT_TRUE(bus.map_ram(kRamBase, kRamSize).ok());
  GuestClock clock;
  constexpr uint64_t kCounter = kRamBase + 0x10000, kLrScCounter = kRamBase + 0x10008;
  constexpr int kIterations = 20000;
  Program p;
  p.load_imm(1, kCounter).load_imm(2, kLrScCounter).op(addi(3, 0, 1));
  p.load_imm(4, kIterations);
  uint64_t loop = p.here();
  p.op(amoadd_d(0, 1, 3));
  uint64_t retry = p.here();
  p.op(lr_w(5, 2)).op(addi(5, 5, 1)).op(sc_w(6, 2, 5));
  p.op(bne(6, 0, static_cast<int32_t>(retry - p.here())));
  p.op(addi(4, 4, -1)).op(bne(4, 0, static_cast<int32_t>(loop - p.here())));
  uint64_t end = p.here();
  p.op(b(0, 0, 0, 0));  // spin
  for (size_t k = 0; k < p.words.size(); ++k) {
    std::memcpy(bus.ram_ptr(kRamBase + 4 * k, 4), &p.words[k], 4);
  }
  Hart h0(bus, clock, 0), h1(bus, clock, 1);
  h0.reset(kRamBase);
  h1.reset(kRamBase);
  auto body = [end](Hart* h) {
    while (h->pc() != end) h->run(1000);
  };
  std::thread t0(body, &h0), t1(body, &h1);
  t0.join();
  t1.join();
  uint64_t counter, lrsc;
  std::memcpy(&counter, bus.ram_ptr(kCounter, 8), 8);
  std::memcpy(&lrsc, bus.ram_ptr(kLrScCounter, 8), 8);
  EXPECT_EQ(counter, 2u * kIterations);
  EXPECT_EQ(lrsc & 0xffffffff, 2u * kIterations);
}

// Priv spec 3.1.12: a set mcountinhibit bit stops mcycle (CY) or minstret
// (IR); clearing it resumes counting from the frozen value.
TEST_F(HartRun, McountinhibitStopsAndResumesCounters) {
  constexpr unsigned kMcycle = 0xb00, kMinstret = 0xb02, kMcountinhibit = 0x320;
  Program p;
  p.op(addi(1, 0, 5)).op(csrrw(0, kMcountinhibit, 1));  // stop CY and IR
  p.op(csrrs(2, kMinstret, 0)).op(csrrs(3, kMcycle, 0));
  p.op(addi(0, 0, 0)).op(addi(0, 0, 0)).op(addi(0, 0, 0));
  p.op(csrrs(4, kMinstret, 0)).op(csrrs(5, kMcycle, 0));
  p.op(csrrw(0, kMcountinhibit, 0));  // count again
  p.op(addi(0, 0, 0)).op(addi(0, 0, 0)).op(addi(0, 0, 0));
  p.op(csrrs(6, kMinstret, 0));
  p.op(csrrw(0, kMcountinhibit, 1)).op(csrrw(0, kMinstret, 1));  // write while stopped
  p.op(addi(0, 0, 0)).op(csrrs(7, kMinstret, 0));
  load(p);
  hart.run(p.words.size());
  EXPECT_EQ(hart.reg(4), hart.reg(2));
  EXPECT_EQ(hart.reg(5), hart.reg(3));
  // Resumed from the frozen value: only the three nops since are counted.
  EXPECT_EQ(hart.reg(6), hart.reg(2) + 3);
  EXPECT_EQ(hart.reg(1), 5u);
  EXPECT_EQ(hart.reg(7), 5u);  // the value written, frozen
}

TEST_F(HartRun, SaveAndRestoreContinuesIdentically) {
  Program p;
  p.op(addi(6, 0, 100)).op(addi(7, 0, 1));
  uint64_t loop = p.here();
  p.op(add(7, 7, 7)).op(addi(7, 7, 3)).op(addi(6, 6, -1));
  p.op(bne(6, 0, static_cast<int32_t>(loop - p.here())));
  p.op(csrrs(8, 0xb02, 0));  // minstret
  load(p);
  hart.run(150);
  StateWriter saved;
  hart.save(saved);
  hart.run(1000);

  Hart restored(bus, clock, 0);
  StateReader reader(saved.data());
  ASSERT_TRUE(restored.load(reader).ok());
  restored.run(1000);
  for (unsigned r = 0; r < 32; ++r) EXPECT_EQ(restored.reg(r), hart.reg(r)) << "x" << r;
  EXPECT_EQ(restored.pc(), hart.pc());
  EXPECT_EQ(restored.instret(), hart.instret());

  Hart other_id(bus, clock, 1);
  StateReader reader2(saved.data());
  EXPECT_FALSE(other_id.load(reader2).ok());
}

}  // namespace
}  // namespace vessel::cpu::riscv
