#include "machine/loader.h"

#include <elf.h>
#include <endian.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>
#include <vector>

namespace vessel::machine {
namespace {

#ifndef EM_RISCV
constexpr uint16_t EM_RISCV = 243;
#endif

std::string hex(uint64_t v) {
  char buf[24];
  snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

// A read-only image file; every read is bounds-checked against its size.
class ImageFile {
 public:
  static Result<ImageFile> open(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Error(path + ": " + strerror(errno));
    ImageFile file(fd, path);
    struct stat st {};
    if (fstat(fd, &st) != 0) return Error(path + ": " + strerror(errno));
    if (S_ISDIR(st.st_mode)) return Error(path + ": is a directory");
    if (!S_ISREG(st.st_mode)) return Error(path + ": not a regular file");
    if (st.st_size == 0) return Error(path + ": file is empty");
    file.size_ = static_cast<uint64_t>(st.st_size);
    return file;
  }

  ImageFile(ImageFile&& other) noexcept
      : fd_(std::exchange(other.fd_, -1)), path_(std::move(other.path_)), size_(other.size_) {}
  ImageFile& operator=(ImageFile&&) = delete;
  ~ImageFile() {
    if (fd_ >= 0) close(fd_);
  }

  uint64_t size() const { return size_; }
  const std::string& path() const { return path_; }

  Result<void> read_at(uint64_t offset, void* out, uint64_t length) const {
    if (offset > size_ || length > size_ - offset) return Error(path_ + ": file is truncated");
    auto* p = static_cast<uint8_t*>(out);
    while (length > 0) {
      ssize_t n = pread(fd_, p, length, static_cast<off_t>(offset));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return Error(path_ + ": " + strerror(errno));
      if (n == 0) return Error(path_ + ": file is truncated");
      p += n;
      offset += static_cast<uint64_t>(n);
      length -= static_cast<uint64_t>(n);
    }
    return Ok();
  }

 private:
  ImageFile(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  int fd_;
  std::string path_;
  uint64_t size_ = 0;
};

bool is_elf(const ImageFile& file) {
  unsigned char magic[SELFMAG];
  return file.size() >= SELFMAG && file.read_at(0, magic, SELFMAG).ok() &&
         std::memcmp(magic, ELFMAG, SELFMAG) == 0;
}

Result<uint8_t*> ram_window(memory::AddressSpace& bus, const ImageFile& file, uint64_t address,
                            uint64_t length, const char* what) {
  uint8_t* p = bus.ram_ptr(address, length);
  if (p != nullptr) return p;
  std::string range = std::string(what) + " [" + hex(address) + ", " + hex(address + length) + ")";
  std::string ram = "[" + hex(bus.ram_base()) + ", " + hex(bus.ram_base() + bus.ram_size()) + ")";
  if (address >= bus.ram_base() && address - bus.ram_base() < bus.ram_size()) {
    return Error(file.path() + ": " + range + " does not fit in guest RAM " + ram +
                 "; the guest needs more memory");
  }
  return Error(file.path() + ": " + range + " is outside guest RAM " + ram);
}

// ELF-64 Object File Format 1.5, RISC-V ELF psABI: a little-endian RV64
// executable; PT_LOAD segments copied to p_paddr, p_memsz - p_filesz zeroed.
Result<LoadedImage> load_elf(memory::AddressSpace& bus, const ImageFile& file) {
  const std::string& path = file.path();
  Elf64_Ehdr eh{};
  if (file.size() < sizeof eh) return Error(path + ": truncated ELF header");
  TRY(file.read_at(0, &eh, sizeof eh));
  if (eh.e_ident[EI_CLASS] != ELFCLASS64) {
    return Error(path + ": not a 64-bit ELF file (Vessel runs RV64 guests)");
  }
  if (eh.e_ident[EI_DATA] != ELFDATA2LSB) return Error(path + ": not a little-endian ELF file");
  if (eh.e_machine != EM_RISCV) {
    return Error(path + ": ELF machine " + std::to_string(eh.e_machine) + " is not RISC-V");
  }
  if (eh.e_type != ET_EXEC && eh.e_type != ET_DYN) return Error(path + ": not an ELF executable");
  if (eh.e_phnum == 0) return Error(path + ": ELF file has no program headers");
  if (eh.e_phentsize != sizeof(Elf64_Phdr)) {
    return Error(path + ": bad ELF program header size " + std::to_string(eh.e_phentsize));
  }
  uint64_t table_size = uint64_t{eh.e_phnum} * sizeof(Elf64_Phdr);
  if (eh.e_phoff > file.size() || table_size > file.size() - eh.e_phoff) {
    return Error(path + ": ELF program headers lie beyond the end of the file");
  }
  std::vector<Elf64_Phdr> phdrs(eh.e_phnum);
  TRY(file.read_at(eh.e_phoff, phdrs.data(), table_size));

  // Validate every segment before writing any, so a bad file leaves RAM untouched.
  LoadedImage image{eh.e_entry, UINT64_MAX, 0};
  for (const Elf64_Phdr& ph : phdrs) {
    if (ph.p_type != PT_LOAD || ph.p_memsz == 0) continue;
    if (ph.p_filesz > ph.p_memsz)
      return Error(path + ": ELF segment larger in file than in memory");
    if (ph.p_offset > file.size() || ph.p_filesz > file.size() - ph.p_offset) {
      return Error(path + ": ELF segment at " + hex(ph.p_paddr) + " is truncated");
    }
    if (ph.p_paddr + ph.p_memsz < ph.p_paddr) return Error(path + ": ELF segment wraps around");
    TRY(ram_window(bus, file, ph.p_paddr, ph.p_memsz, "ELF segment"));
    image.start = std::min(image.start, ph.p_paddr);
    image.end = std::max(image.end, ph.p_paddr + ph.p_memsz);
  }
  if (image.end == 0) return Error(path + ": ELF file has no loadable segments");
  if (eh.e_entry < image.start || eh.e_entry >= image.end) {
    return Error(path + ": ELF entry point " + hex(eh.e_entry) + " is outside its segments");
  }
  for (const Elf64_Phdr& ph : phdrs) {
    if (ph.p_type != PT_LOAD || ph.p_memsz == 0) continue;
    uint8_t* dst = bus.ram_ptr(ph.p_paddr, ph.p_memsz);
    TRY(file.read_at(ph.p_offset, dst, ph.p_filesz));
    std::memset(dst + ph.p_filesz, 0, ph.p_memsz - ph.p_filesz);
  }
  return image;
}

// `length` bytes of the file from `offset` at `address`, zero-filled up to
// `footprint` bytes.
Result<LoadedImage> load_raw(memory::AddressSpace& bus, const ImageFile& file, uint64_t offset,
                             uint64_t length, uint64_t address, uint64_t footprint,
                             const char* what) {
  TRY_ASSIGN(uint8_t * dst, ram_window(bus, file, address, footprint, what));
  TRY(file.read_at(offset, dst, length));
  std::memset(dst + length, 0, footprint - length);
  return LoadedImage{address, address, address + footprint};
}

// Documentation/riscv/boot-image-header.rst
struct LinuxImageHeader {
  uint32_t code0;
  uint32_t code1;
  uint64_t text_offset;
  uint64_t image_size;  // effective size including .bss; 0 on very old kernels
  uint64_t flags;
  uint32_t version;
  uint32_t res1;
  uint64_t res2;
  uint64_t magic;   // "RISCV\0\0\0", deprecated
  uint32_t magic2;  // "RSC\x05"
  uint32_t res3;
};
static_assert(sizeof(LinuxImageHeader) == 64);
constexpr uint64_t kImageMagic = 0x5643534952;  // "RISCV" little-endian
constexpr uint32_t kImageMagic2 = 0x05435352;   // "RSC\x05" little-endian

bool is_linux_image(const LinuxImageHeader& header) {
  return header.magic2 == kImageMagic2 || (header.magic & 0xffffffffff) == kImageMagic;
}

// U-Boot's legacy image header (include/image.h), big-endian, followed by
// ih_size bytes of data.
struct UImageHeader {
  uint32_t magic;
  uint32_t header_crc;
  uint32_t time;
  uint32_t size;
  uint32_t load;
  uint32_t entry;
  uint32_t data_crc;
  uint8_t os;
  uint8_t arch;
  uint8_t type;
  uint8_t compression;
  uint8_t name[32];
};
static_assert(sizeof(UImageHeader) == 64);
constexpr uint32_t kUImageMagic = 0x27051956;
constexpr uint8_t kUImageArchRiscv = 26;    // IH_ARCH_RISCV
constexpr uint8_t kUImageTypeKernel = 2;    // IH_TYPE_KERNEL
constexpr uint8_t kUImageCompressNone = 0;  // IH_COMP_NONE

// As QEMU's load_uimage_as() for a machine without a default load address:
// a kernel image, uncompressed (QEMU also inflates gzip), copied to ih_load
// and entered at ih_ep. The checksums are not checked, as QEMU does not.
Result<LoadedImage> load_uimage(memory::AddressSpace& bus, const ImageFile& file,
                                const UImageHeader& raw) {
  const std::string& path = file.path();
  UImageHeader h = raw;
  for (uint32_t* field : {&h.size, &h.load, &h.entry}) *field = be32toh(*field);
  if (h.arch != kUImageArchRiscv) {
    return Error(path + ": U-Boot image for architecture " + std::to_string(h.arch) +
                 ", not RISC-V");
  }
  if (h.type != kUImageTypeKernel) {
    return Error(path + ": U-Boot image of type " + std::to_string(h.type) +
                 " is not a kernel (type 2)");
  }
  if (h.compression != kUImageCompressNone) {
    return Error(path + ": compressed U-Boot images are not supported; use an uncompressed one");
  }
  if (h.size == 0) return Error(path + ": U-Boot image holds no data");
  if (file.size() - sizeof h < h.size) return Error(path + ": U-Boot image data is truncated");
  if (h.entry < h.load || h.entry - h.load >= h.size) {
    return Error(path + ": U-Boot image entry point " + hex(h.entry) + " is outside its data");
  }
  TRY_ASSIGN(LoadedImage image,
             load_raw(bus, file, sizeof h, h.size, h.load, h.size, "U-Boot image data"));
  image.entry = h.entry;
  return image;
}

}  // namespace

Result<uint64_t> image_file_size(const std::string& path) {
  TRY_ASSIGN(ImageFile file, ImageFile::open(path));
  return file.size();
}

Result<LoadedImage> load_firmware(memory::AddressSpace& bus, const std::string& path) {
  TRY_ASSIGN(ImageFile file, ImageFile::open(path));
  if (is_elf(file)) return load_elf(bus, file);
  return load_raw(bus, file, 0, file.size(), bus.ram_base(), file.size(), "firmware image");
}

// QEMU's riscv_load_kernel(): an ELF file, else a U-Boot image, else the
// file's bytes at the kernel address.
Result<LoadedImage> load_kernel(memory::AddressSpace& bus, const std::string& path,
                                uint64_t image_address) {
  TRY_ASSIGN(ImageFile file, ImageFile::open(path));
  if (is_elf(file)) return load_elf(bus, file);

  // Both headers are 64 bytes; a shorter file has neither.
  static_assert(sizeof(LinuxImageHeader) == sizeof(UImageHeader));
  LinuxImageHeader linux_header{};
  UImageHeader uimage_header{};
  if (file.size() >= sizeof linux_header) {
    TRY(file.read_at(0, &linux_header, sizeof linux_header));
    std::memcpy(&uimage_header, &linux_header, sizeof uimage_header);
  }
  if (be32toh(uimage_header.magic) == kUImageMagic) return load_uimage(bus, file, uimage_header);
  uint16_t magic = 0;
  if (file.size() >= 2) TRY(file.read_at(0, &magic, sizeof magic));
  if (magic == 0x8b1f) {
    // Raw, it would run compressed bytes as code.
    return Error(path + ": compressed kernel images are not supported; use the uncompressed Image");
  }
  // A Linux Image's header tells how much RAM it needs beyond the file (its
  // .bss); any other raw image takes just its own size.
  uint64_t footprint = file.size();
  if (is_linux_image(linux_header)) footprint = std::max(footprint, linux_header.image_size);
  return load_raw(bus, file, 0, file.size(), image_address, footprint, "kernel image");
}

Result<LoadedImage> load_blob(memory::AddressSpace& bus, const std::string& path,
                              uint64_t address) {
  TRY_ASSIGN(ImageFile file, ImageFile::open(path));
  return load_raw(bus, file, 0, file.size(), address, file.size(), "image");
}

}  // namespace vessel::machine
