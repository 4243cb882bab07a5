#!/usr/bin/env bash
# Installs everything Vessel and its default guest need on Debian 12.
# Idempotent: packages already present are skipped by apt.
set -euo pipefail

packages=(
  # host build
  build-essential cmake ninja-build pkg-config libfdt-dev libgtest-dev
  # JSON (header-only): vessel img's json: image names and --object
  nlohmann-json3-dev
  # device-tree inspection (dtc) for tests and debugging
  device-tree-compiler
  # default guest: kernel, busybox, initramfs, data disk
  linux-source-6.1 gcc-riscv64-linux-gnu binutils-riscv64-linux-gnu
  libc6-dev-riscv64-cross linux-libc-dev-riscv64-cross
  bc bison flex libssl-dev libelf-dev cpio xz-utils gzip dpkg-dev e2fsprogs
  make python3
  # firmware
  opensbi
  # tests: S-mode U-Boot (u-boot.bin) booted as a raw --kernel
  u-boot-qemu
  # tests and benchmarks: the reference peer
  qemu-system-misc
  # FPU differential test: riscv64 user-mode binaries on QEMU's soft-float
  qemu-user
  # block layer: qcow2 compressed clusters; qemu-img/qemu-io as the interop reference
  qemu-utils zlib1g-dev libzstd-dev
  # user-mode networking (NAT, DHCP, port forwards)
  libslirp-dev
  # the JIT: an x86-64 assembler library
  libasmjit-dev
  # network tests: namespaces, bridges (iproute2) and the host side pinging guests
  iproute2 iputils-ping
  # img tests: open flags, syncs and ioctls of vessel img and qemu-img, side by side
  strace
  # vesseld: domain XML (pugixml); Debian's libvirt clients drive it in the
  # tests (virsh, virt-xml-validate, the Python binding, virt-install)
  libpugixml-dev libvirt-clients python3-libvirt virtinst
  # fuzz targets (fuzz/): clang with libFuzzer
  clang libclang-rt-14-dev
)

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"

# Source packages (busybox for the default guest): a deb-src entry for the
# same archive, suites and keyring as the binary entries. Rewritten only when
# its content changes; a change forces an index update.
need_update=0
debsrc=/etc/apt/sources.list.d/vessel-deb-src.sources
if [ -f /etc/apt/sources.list.d/debian.sources ]; then
  want=$(sed -e 's/^Types:.*/Types: deb-src/' /etc/apt/sources.list.d/debian.sources)
else
  want=$(printf '%s\n' 'Types: deb-src' 'URIs: http://deb.debian.org/debian' \
    'Suites: bookworm bookworm-updates' 'Components: main' \
    'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg')
fi
if [ "$(cat "$debsrc" 2>/dev/null)" != "$want" ]; then
  printf '%s\n' "$want" | $sudo tee "$debsrc" >/dev/null
  need_update=1
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ] || [ "$need_update" -eq 1 ]; then
  $sudo apt-get update -q
fi
if [ ${#missing[@]} -gt 0 ]; then
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
