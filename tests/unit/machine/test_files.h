// Scratch files for loader tests: a temporary directory removed afterwards,
// and builders for ELF files and Linux Image headers.
#pragma once

#include <elf.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace vessel::machine::testing {

class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "vessel-test-XXXXXX").string();
    path_ = mkdtemp(pattern.data()) != nullptr ? pattern : "";
  }
  ~TempDir() {
    std::error_code ignored;
    if (!path_.empty()) std::filesystem::remove_all(path_, ignored);
  }
  std::string file(const std::string& name, const std::vector<uint8_t>& bytes) const {
    std::string p = path_ + "/" + name;
    std::ofstream(p, std::ios::binary)
        .write(reinterpret_cast<const char*>(bytes.data()),
               static_cast<std::streamsize>(bytes.size()));
    return p;
  }
  std::string file(const std::string& name, const std::string& text) const {
    return file(name, std::vector<uint8_t>(text.begin(), text.end()));
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

struct Segment {
  uint64_t paddr;
  std::vector<uint8_t> data;
  uint64_t memsz;  // >= data.size(); the rest is .bss
};

// A little-endian ELF64 RISC-V executable with one PT_LOAD per segment.
inline std::vector<uint8_t> make_elf(uint64_t entry, const std::vector<Segment>& segments) {
  Elf64_Ehdr eh{};
  std::memcpy(eh.e_ident, ELFMAG, SELFMAG);
  eh.e_ident[EI_CLASS] = ELFCLASS64;
  eh.e_ident[EI_DATA] = ELFDATA2LSB;
  eh.e_ident[EI_VERSION] = EV_CURRENT;
  eh.e_type = ET_EXEC;
  eh.e_machine = 243;  // EM_RISCV
  eh.e_version = EV_CURRENT;
  eh.e_entry = entry;
  eh.e_phoff = sizeof eh;
  eh.e_ehsize = sizeof eh;
  eh.e_phentsize = sizeof(Elf64_Phdr);
  eh.e_phnum = static_cast<uint16_t>(segments.size());

  std::vector<uint8_t> out(sizeof eh + segments.size() * sizeof(Elf64_Phdr));
  uint64_t offset = out.size();
  for (size_t i = 0; i < segments.size(); ++i) {
    Elf64_Phdr ph{};
    ph.p_type = PT_LOAD;
    ph.p_flags = PF_R | PF_W | PF_X;
    ph.p_offset = offset;
    ph.p_vaddr = ph.p_paddr = segments[i].paddr;
    ph.p_filesz = segments[i].data.size();
    ph.p_memsz = segments[i].memsz;
    ph.p_align = 8;
    std::memcpy(out.data() + sizeof eh + i * sizeof ph, &ph, sizeof ph);
    offset += ph.p_filesz;
  }
  std::memcpy(out.data(), &eh, sizeof eh);
  for (const Segment& s : segments) out.insert(out.end(), s.data.begin(), s.data.end());
  return out;
}

// A RISC-V Linux Image (Documentation/riscv/boot-image-header.rst) of
// `file_size` bytes whose header claims `image_size` bytes in memory.
inline std::vector<uint8_t> make_linux_image(uint64_t file_size, uint64_t image_size) {
  std::vector<uint8_t> out(file_size, 0x13);  // filler
  auto put = [&](size_t at, uint64_t v, size_t n) { std::memcpy(out.data() + at, &v, n); };
  put(0, 0x0000006f, 4);  // code0: j .
  put(4, 0, 4);
  put(8, 0x200000, 8);     // text_offset
  put(16, image_size, 8);  // image_size
  put(24, 0, 8);
  put(32, 2, 4);  // version 0.2
  put(48, 0x5643534952, 8);
  put(56, 0x05435352, 4);
  return out;
}

}  // namespace vessel::machine::testing
