#!/usr/bin/env bash
# Installs everything Vessel and its default guest need on Debian 12.
# Idempotent: packages already present are skipped by apt.
set -euo pipefail

packages=(
  # host build
  build-essential cmake ninja-build pkg-config libfdt-dev
  # default guest: kernel, busybox, initramfs, data disk
  linux-source-6.1 gcc-riscv64-linux-gnu binutils-riscv64-linux-gnu
  bc bison flex libssl-dev libelf-dev cpio xz-utils dpkg-dev e2fsprogs
  # firmware
  opensbi
  # tests and benchmarks: the reference peer
  qemu-system-misc
)

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
