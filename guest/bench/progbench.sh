#!/bin/sh
# progbench: real programs on a fixed input, timed inside the guest; the
# other half of the CPU benchmark (cpubench is the synthetic half). Each
# phase is one busybox applet over the same generated text (1.1 MB):
#   gen      awk prints 40000 numbered lines
#   gzip     gzip -9 of the text        gunzip   back again
#   bzip2    bzip2 of the text          sha256   sha256sum of the text
#   sort     sort by two numeric keys   awk      an awk program over the text
#   sed      regular-expression substitutions
# Output in cpubench's format (bench/run.py reads both):
#   progbench: phase=NAME ms=N
#   progbench: total_ms=N checksum=0x... (from the phases' outputs, so a wrong
#   result shows however fast it came)
# Times come from /proc/uptime: 10 ms steps.
set -e
dir=/tmp/progbench
mkdir -p "$dir"
cd "$dir"

now_ms() {
  read -r up _ < /proc/uptime
  frac=${up#*.}
  echo $(( ${up%.*} * 1000 + ${frac#0} * 10 ))
}

total=0
phase() {
  name=$1
  shift
  start=$(now_ms)
  "$@"
  ms=$(( $(now_ms) - start ))
  total=$((total + ms))
  echo "progbench: phase=$name ms=$ms"
}

gen() {
  awk 'BEGIN { for (i = 0; i < 40000; i++) printf "%d %d lorem ipsum dolor %x\n", i, (i * i) % 9973, i * 7919 }' > text
}
compress() { gzip -9 -c text > text.gz; }
decompress() { gunzip -c text.gz > text.back; }
bz() { bzip2 -c text > text.bz2; }
hash() { sha256sum text > text.sha; }
sorting() { sort -k2,2n -k1,1nr text > text.sorted; }
awking() {
  awk '{ s[$2 % 97] += $1; n[length($5)]++ } END { for (k in s) t += s[k] * k; for (k in n) t += n[k] * k; print t }' text > text.awk
}
seding() { sed -e 's/lorem/LOREM/g' -e 's/\([0-9]\+\) \([0-9]\+\)/\2:\1/' -e 's/[aeiou]/_/g' text > text.sed; }

phase gen gen
phase gzip compress
phase gunzip decompress
phase bzip2 bz
phase sha256 hash
phase sort sorting
phase awk awking
phase sed seding

cmp -s text text.back || { echo "progbench: gunzip gave back something else" >&2; exit 1; }
sum=$(cat text.gz text.bz2 text.sha text.sorted text.awk text.sed | sha256sum)
echo "progbench: total_ms=$total checksum=0x$(echo "$sum" | cut -c1-16)"
cd /
rm -rf "$dir"
