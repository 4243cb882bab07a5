#!/usr/bin/env bash
# check-kconfig.sh FRAGMENT DOTCONFIG
#
# Verifies that every option set in a Kconfig fragment survived into the
# final .config. Kconfig silently drops options whose dependencies are not
# met; this turns that into a loud build failure.
#   CONFIG_X=value          must appear exactly so in DOTCONFIG
#   # CONFIG_X is not set   CONFIG_X must not be set (absent or "is not set")
set -euo pipefail

frag=${1:?usage: check-kconfig.sh FRAGMENT DOTCONFIG}
conf=${2:?usage: check-kconfig.sh FRAGMENT DOTCONFIG}

bad=0
checked=0
while IFS= read -r line; do
  if [[ $line =~ ^(CONFIG_[A-Za-z0-9_]+)=(.*)$ ]]; then
    opt=${BASH_REMATCH[1]}
    checked=$((checked + 1))
    if ! grep -qxF -- "$line" "$conf"; then
      have=$(grep -E "^($opt=|# $opt is not set)" "$conf" || true)
      echo "check-kconfig: $conf: want '$line', have '${have:-<absent: dependencies not met>}'" >&2
      bad=$((bad + 1))
    fi
  elif [[ $line =~ ^#\ (CONFIG_[A-Za-z0-9_]+)\ is\ not\ set$ ]]; then
    opt=${BASH_REMATCH[1]}
    checked=$((checked + 1))
    if have=$(grep -E "^$opt=" "$conf"); then
      echo "check-kconfig: $conf: want '$opt' unset, have '$have'" >&2
      bad=$((bad + 1))
    fi
  fi
done < "$frag"

if [ "$bad" -ne 0 ]; then
  echo "check-kconfig: $bad of $checked options from $frag are missing or wrong in $conf" >&2
  exit 1
fi
echo "check-kconfig: all $checked options from $(basename "$frag") present"
