// CSR addresses and mstatus fields (priv spec ch. 2.2 and 3.1).
#pragma once

#include <cstdint>

namespace vessel::cpu::riscv::csr {

enum Address : unsigned {
  kFflags = 0x001,
  kFrm = 0x002,
  kFcsr = 0x003,
  kCycle = 0xc00,
  kTime = 0xc01,
  kInstret = 0xc02,
  kHpmcounter3 = 0xc03,
  kHpmcounter31 = 0xc1f,
  kSstatus = 0x100,
  kSie = 0x104,
  kStvec = 0x105,
  kScounteren = 0x106,
  kSenvcfg = 0x10a,
  kSscratch = 0x140,
  kSepc = 0x141,
  kScause = 0x142,
  kStval = 0x143,
  kSip = 0x144,
  kSatp = 0x180,
  kMvendorid = 0xf11,
  kMarchid = 0xf12,
  kMimpid = 0xf13,
  kMhartid = 0xf14,
  kMconfigptr = 0xf15,
  kMstatus = 0x300,
  kMisa = 0x301,
  kMedeleg = 0x302,
  kMideleg = 0x303,
  kMie = 0x304,
  kMtvec = 0x305,
  kMcounteren = 0x306,
  kMenvcfg = 0x30a,
  kMcountinhibit = 0x320,
  kMhpmevent3 = 0x323,
  kMhpmevent31 = 0x33f,
  kMscratch = 0x340,
  kMepc = 0x341,
  kMcause = 0x342,
  kMtval = 0x343,
  kMip = 0x344,
  kMtinst = 0x34a,
  kMtval2 = 0x34b,
  kPmpcfg0 = 0x3a0,
  kPmpcfg15 = 0x3af,
  kPmpaddr0 = 0x3b0,
  kPmpaddr63 = 0x3ef,
  kTselect = 0x7a0,
  kTdata1 = 0x7a1,
  kTdata2 = 0x7a2,
  kTdata3 = 0x7a3,
  kTinfo = 0x7a4,
  kMcycle = 0xb00,
  kMinstret = 0xb02,
  kMhpmcounter3 = 0xb03,
  kMhpmcounter31 = 0xb1f,
};

namespace mstatus {
constexpr uint64_t kSie = 1 << 1, kMie = 1 << 3, kSpie = 1 << 5, kMpie = 1 << 7, kSpp = 1 << 8;
constexpr unsigned kMppShift = 11;
constexpr uint64_t kMpp = uint64_t{3} << kMppShift;
constexpr uint64_t kFs = uint64_t{3} << 13, kXs = uint64_t{3} << 15, kVs = uint64_t{3} << 9;
constexpr uint64_t kMprv = 1 << 17, kSum = 1 << 18, kMxr = 1 << 19;
constexpr uint64_t kTvm = 1 << 20, kTw = 1 << 21, kTsr = 1 << 22;
constexpr uint64_t kUxl = uint64_t{3} << 32, kSxl = uint64_t{3} << 34;
constexpr uint64_t kSd = uint64_t{1} << 63;
constexpr uint64_t kXlen64 = (uint64_t{2} << 32) | (uint64_t{2} << 34);  // UXL = SXL = 64
constexpr uint64_t kWritable =
    kSie | kMie | kSpie | kMpie | kSpp | kMpp | kFs | kMprv | kSum | kMxr | kTvm | kTw | kTsr;
constexpr uint64_t kSstatusView = kSie | kSpie | kSpp | kFs | kXs | kVs | kSum | kMxr | kUxl | kSd;
constexpr uint64_t kSstatusWritable = kSie | kSpie | kSpp | kFs | kSum | kMxr;
}  // namespace mstatus

// Exception causes (priv spec table 3.6).
enum Cause : uint64_t {
  kInstructionMisaligned = 0,
  kInstructionAccessFault = 1,
  kIllegalInstruction = 2,
  kBreakpoint = 3,
  kLoadMisaligned = 4,
  kLoadAccessFault = 5,
  kStoreMisaligned = 6,
  kStoreAccessFault = 7,
  kEcallFromU = 8,
  kEcallFromS = 9,
  kEcallFromM = 11,
  kInstructionPageFault = 12,
  kLoadPageFault = 13,
  kStorePageFault = 15,
};

constexpr uint64_t kInterruptBit = uint64_t{1} << 63;
// Exceptions that medeleg may delegate (M-mode ecall cannot be).
constexpr uint64_t kDelegableExceptions = 0xb3ff & ~(uint64_t{1} << 10);
constexpr uint64_t kSupervisorInterrupts = (1 << 1) | (1 << 5) | (1 << 9);
constexpr uint64_t kAllInterrupts = 0xaaa;

// misa: RV64 with I M A F D C S U (priv spec 3.1.1).
constexpr uint64_t kMisaValue = (uint64_t{2} << 62) | (1 << 0) | (1 << 2) | (1 << 3) | (1 << 5) |
                                (1 << 8) | (1 << 12) | (1 << 18) | (1 << 20);

}  // namespace vessel::cpu::riscv::csr
