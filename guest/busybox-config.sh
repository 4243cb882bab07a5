#!/usr/bin/env bash
# busybox-config.sh BUSYBOX_TREE FRAGMENT
#
# Reproducible busybox configuration: `make defconfig`, then each option of
# FRAGMENT replaces the default, then `make oldconfig` settles dependencies
# and check-kconfig.sh verifies the result.
set -euo pipefail

tree=${1:?usage: busybox-config.sh BUSYBOX_TREE FRAGMENT}
frag=${2:?usage: busybox-config.sh BUSYBOX_TREE FRAGMENT}
here=$(cd "$(dirname "$0")" && pwd)

make -s -C "$tree" defconfig >/dev/null
while IFS= read -r line; do
  if [[ $line =~ ^(CONFIG_[A-Za-z0-9_]+)=.*$ ]] || [[ $line =~ ^#\ (CONFIG_[A-Za-z0-9_]+)\ is\ not\ set$ ]]; then
    opt=${BASH_REMATCH[1]}
    sed -i -e "/^$opt=/d" -e "/^# $opt is not set\$/d" "$tree/.config"
    printf '%s\n' "$line" >> "$tree/.config"
  fi
done < "$frag"
# Answer any new question with its default.
make -s -C "$tree" oldconfig < /dev/null > /dev/null
"$here/check-kconfig.sh" "$frag" "$tree/.config"
