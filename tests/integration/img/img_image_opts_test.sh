#!/bin/bash
# How vessel img names images and takes --object, against qemu-img:
# json:{...} (nested and flattened), file:PATH, --image-opts, and --object
# secret definitions, through every verb that opens an image; errors for
# unknown drivers, options and objects must be qemu-img's, after the program
# name; encrypted images and options that vessel does not implement get an
# error of their own.
# Usage: img_image_opts_test.sh VESSEL SCRATCH_DIR
set -euo pipefail
VESSEL=$1
DIR=$2
TOOLS="qemu-img qemu-io"
. "$(dirname "$0")/lib.sh"

# both ARGS...: `vessel img ARGS` and `qemu-img ARGS` in the same directory
# must exit alike and print the same stdout and stderr (qemu-img's "qemu-img:"
# prefix read as vessel's "vessel: error:", or "vessel: warning:").
both() {
  local want=0 got=0
  qemu-img "$@" >want.out 2>want.err || want=$?
  "$VESSEL" img "$@" >got.out 2>got.err || got=$?
  [ "$got" = "$want" ] || fail "$*: exit $got, qemu-img $want: $(cat got.err)"
  cmp -s got.out want.out || fail "$*: stdout differs: $(diff got.out want.out)"
  sed -e 's/^vessel: error: /qemu-img: /' -e 's/^vessel: warning: /qemu-img: warning: /' \
    got.err >got.norm
  cmp -s got.norm want.err || fail "$*: stderr differs: $(diff got.norm want.err)"
}
# vessel_error PATTERN ARGS...: vessel img ARGS fails with one error line
# that matches PATTERN (a case qemu-img handles and vessel refuses).
vessel_error() {
  local pattern=$1
  shift
  expect_error "$VESSEL" img "$@"
  grep -q -- "$pattern" err.txt || fail "$*: error: $(cat err.txt)"
}

qemu-img create -q -f qcow2 a.qcow2 4M
qio -c 'write -P 0x5a 0 192k' -c 'write -z 1M 64k' a.qcow2
qemu-img create -q -f raw r.raw 1M
qemu-img create -q -f qcow2 base.qcow2 4M
qio -c 'write -P 0x11 0 4M' base.qcow2
qemu-img create -q -f qcow2 -b base.qcow2 -F qcow2 top.qcow2
qio -c 'write -P 0x22 64k 64k' top.qcow2
printf 'hunter2' >pw

# --- every spelling of one image, through the read-only verbs ---
nested='json:{"driver":"qcow2","file":{"driver":"file","filename":"a.qcow2"}}'
flat='json:{"file.filename":"a.qcow2"}'
for name in "$nested" "$flat" ' json:{"file":{"filename":"a.qcow2"}}' 'file:a.qcow2'; do
  both info "$name"
  both info --output=json "$name"
  both check "$name"
  both check --output=json "$name"
  both map --output=json "$name"
  both snapshot -l "$name"
  both measure -O qcow2 "$name"
  both compare "$name" a.qcow2
done
both info 'json:{"driver":"raw","file.filename":"a.qcow2"}'
both info -f raw "$nested"  # -f wins over the driver json: names
both info 'json:{"file.filename":"top.qcow2","backing":null}'
both map --output=json 'json:{"file.filename":"top.qcow2","backing":null}'
both info --backing-chain 'json:{"file.filename":"top.qcow2","backing":null}'
for opts in 'driver=qcow2,file.filename=a.qcow2' 'file.filename=a.qcow2' \
  'driver=raw,file.driver=file,file.filename=r.raw' \
  'driver=qcow2,file.filename=a.qcow2,file.locking=off,cache.direct=on,l2-cache-size=1M' \
  'driver=qcow2,file.filename=a.qcow2,read-only=on,force-share=on,node-name=n0' \
  'driver=qcow2,file.filename=a.qcow2,read-only'; do
  both info --image-opts "$opts"
  both check --output=json --image-opts "$opts"
  both map --image-opts "$opts"
done
both compare --image-opts 'file.filename=a.qcow2' 'driver=qcow2,file.filename=a.qcow2'
both info --image-opts 'driver=qcow2,file.filename=top.qcow2,backing=null'

# --- qemu-img's errors, word for word ---
for name in 'json:{"driver":"foo","file.filename":"a.qcow2"}' \
  'json:{"driver":"qcow2","file.driver":"foo","file.filename":"a.qcow2"}' \
  'json:{"driver":"qcow2","file.filename":"a.qcow2","bogus":1}' \
  'json:{"driver":"qcow2","file.filename":"a.qcow2","file.bogus":1}' \
  'json:{"driver":"raw","file.filename":"a.qcow2","l2-cache-size":"1M"}' \
  'json:{"file.filename":"a.qcow2","read-only":"maybe"}' \
  'json:{"file.filename":"a.qcow2","file.locking":"maybe"}' \
  'json:{"file.filename":"a.qcow2","file.x":[1]}' \
  'json:{"driver":"qcow2","file.driver":"qcow2","file.filename":"a.qcow2"}' \
  'json:{"driver":"qcow2","file":{"driver":"file"}}' \
  'json:[1]' 'json:{}' 'json:{"driver":"qcow2"}' 'json:{"filename":"a.qcow2"}' \
  'json:{"file":"a.qcow2"}' 'json:{"file.filename":"nope.qcow2"}' \
  'file:' 'file:nope.qcow2' 'x:a.qcow2'; do
  both info "$name"
done
for opts in 'driver=foo,file.filename=a.qcow2' 'driver=qcow2,file.filename=a.qcow2,bogus=1' \
  'driver=qcow2,file.filename=a.qcow2,=x' 'a.qcow2' '' \
  'driver=qcow2,file.filename=a,,b.qcow2'; do
  both info --image-opts "$opts"
done
both info -f qcow2 --image-opts 'driver=qcow2,file.filename=a.qcow2'
both check -f qcow2 --image-opts 'driver=qcow2,file.filename=a.qcow2'
cp a.qcow2 ro.qcow2
both resize --image-opts 'driver=qcow2,file.filename=ro.qcow2,read-only=on' 8M
both snapshot -c s1 --image-opts 'driver=qcow2,file.filename=ro.qcow2,read-only=on'
cmp -s ro.qcow2 a.qcow2 || fail "a read-only image was written"
# Where qemu-img's JSON parser and nlohmann's differ, the message differs
# too: only the prefix is the same.
vessel_error "Could not open 'json:{': Could not parse the JSON options: " info 'json:{'

# --- the verbs that write, on copies: the same result as qemu-img's ---
for tool in vessel qemu; do
  mkdir "$tool"
  cp a.qcow2 base.qcow2 top.qcow2 "$tool/"
  cp base.qcow2 "$tool/into.qcow2"
  qemu-img create -q -f qcow2 "$tool/top-into.qcow2" 4M
  qemu-img convert -O raw base.qcow2 "$tool/into.raw"
done
run() {  # run TOOL ARGS...: qemu-img or vessel img, in the tool's directory
  local tool=$1
  shift
  if [ "$tool" = vessel ]; then
    (cd vessel && "$VESSEL" img "$@") >/dev/null || fail "vessel img $*"
  else
    (cd qemu && qemu-img "$@") >/dev/null
  fi
}
for tool in vessel qemu; do
  run $tool convert -O qcow2 'json:{"file.filename":"a.qcow2"}' conv.qcow2
  run $tool convert -O raw --image-opts 'driver=qcow2,file.filename=a.qcow2' conv.raw
  run $tool dd --image-opts if='driver=qcow2,file.filename=a.qcow2' of=dd.raw bs=64k count=3
  run $tool convert -n --target-image-opts a.qcow2 'driver=qcow2,file.filename=into.qcow2'
  run $tool convert -n --target-image-opts --image-opts 'driver=qcow2,file.filename=a.qcow2' \
    'driver=raw,file.filename=into.raw,cache.no-flush=on'
  run $tool convert -n -c --target-image-opts top.qcow2 'file.filename=top-into.qcow2'  # probed
  run $tool snapshot -c snap 'file:a.qcow2'
  run $tool resize --image-opts 'driver=qcow2,file.filename=a.qcow2' 8M
  run $tool amend -o lazy_refcounts=on 'json:{"file.filename":"a.qcow2"}'
  run $tool commit --image-opts 'driver=qcow2,file.filename=top.qcow2'
  run $tool rebase -u -b '' 'file:top.qcow2'
done
cmp -s vessel/conv.qcow2 qemu/conv.qcow2 || fail "convert from json: differs from qemu-img's"
for f in conv.raw dd.raw into.raw; do cmp -s "vessel/$f" "qemu/$f" || fail "$f differs from qemu-img's"; done
for f in into.qcow2 top-into.qcow2; do
  same "vessel/$f" "qemu/$f"
  qcheck "vessel/$f"
done
same vessel/into.qcow2 a.qcow2
for f in a.qcow2 base.qcow2 top.qcow2; do
  same "vessel/$f" "qemu/$f"
  qcheck "vessel/$f"
  # (disk sizes and snapshot dates aside)
  [ "$(cd vessel && qemu-img info "$f" | grep -v '^disk size\|^[0-9]')" = \
    "$(cd qemu && qemu-img info "$f" | grep -v '^disk size\|^[0-9]')" ] ||
    fail "$f: info differs from qemu-img's"
done
# convert --target-image-opts: only into an existing image (-n), whose
# format the option list gives (not -O).
both convert --target-image-opts a.qcow2 'driver=qcow2,file.filename=x.qcow2'
both convert -n --target-image-opts -O qcow2 a.qcow2 'driver=qcow2,file.filename=base.qcow2'
both convert -n --target-image-opts a.qcow2 'driver=qcow2,file.filename=base.qcow2,read-only=on'
both convert -n --target-image-opts a.qcow2 'driver=qcow2,file.filename=base.qcow2,bogus=1'
vessel_error "Could not open 'driver=qcow2,file.filename=nope.qcow2'" \
  convert -n --target-image-opts a.qcow2 'driver=qcow2,file.filename=nope.qcow2'
# (bench prints timings: only its first line and status are compared)
expect 0 "$VESSEL" img bench -c 100 --image-opts 'driver=qcow2,file.filename=a.qcow2'
[ "$(head -1 out.txt)" = "$(qemu-img bench -c 100 --image-opts 'driver=qcow2,file.filename=a.qcow2' | head -1)" ] ||
  fail "bench --image-opts: $(head -1 out.txt)"

# --- --object: secrets are taken, everything else is refused as qemu-img does ---
both info --object secret,id=sec0,data=abc a.qcow2
both info --object secret,id=sec0,file=pw a.qcow2
both info --object secret,id=sec0,data=YWJj,format=base64 --object secret,id=sec1,data=x a.qcow2
both info --object '{"qom-type":"secret","id":"s","data":"a"}' a.qcow2
both info --object 'id=s,qom-type=secret,data=a,,b' a.qcow2
both create -q --object secret,id=s,data=a -f qcow2 new.qcow2 1M
for object in secret,id=sec0,file=nope secret,id=sec0 secret,data=abc \
  secret,id=sec0,data=abc,file=pw secret,id=sec0,data=abc,bogus=1 \
  secret,id=sec0,data=abc,format=foo secret,id=s,data=!!!,format=base64 \
  secret,id=1s,data=a secret,id=s,data=a,loaded=on secret,id=s,data=a,keyid=k \
  iothread,id=io0 memory-backend-ram,id=m,size=1M foo,id=x ,id=s id=s '' \
  '{"qom-type":"secret","id":"s","data":1}' '{"qom-type":"secret","id":"s"}'; do
  both info --object "$object" a.qcow2
done
both info --object secret,id=s,data=a --object secret,id=s,data=b a.qcow2
both info --object secret,help a.qcow2
both map --object secret,id=s,data=a 'json:{"file.filename":"a.qcow2"}'
expect 0 "$VESSEL" img info --object help a.qcow2
grep -q '^  secret$' out.txt || fail "--object help: $(cat out.txt)"
expect_error "$VESSEL" img bench --object secret,id=s,data=a -c 1 a.qcow2  # as qemu-img

# --- encryption: a clear error, whatever the spelling ---
# The header says so (crypt_method 2, LUKS; 1, AES): that is what vessel reads.
cp a.qcow2 enc.qcow2
printf '\0\0\0\2' | dd of=enc.qcow2 bs=1 seek=32 conv=notrunc status=none
cp a.qcow2 aes.qcow2
printf '\0\0\0\1' | dd of=aes.qcow2 bs=1 seek=32 conv=notrunc status=none
vessel_error "aes.qcow2: the image is encrypted (AES); qcow2 encryption is not supported" \
  check aes.qcow2
vessel_error "enc.qcow2: the image is encrypted (LUKS); qcow2 encryption is not supported" \
  info enc.qcow2
vessel_error "qcow2 encryption is not supported" convert -O raw enc.qcow2 enc.raw
vessel_error "does not support encrypted qcow2 images (option 'encrypt.key-secret')" \
  info --object secret,id=sec0,data=hunter2 \
  --image-opts 'driver=qcow2,file.filename=enc.qcow2,encrypt.key-secret=sec0'
vessel_error "does not support encrypted qcow2 images" \
  info --object secret,id=sec0,data=hunter2 'json:{"file.filename":"enc.qcow2","encrypt.key-secret":"sec0"}'

# --- what qemu-img has and vessel does not: a clear error ---
vessel_error "the 'vmdk' driver is not supported by vessel img" \
  info 'json:{"driver":"vmdk","file.filename":"a.qcow2"}'
vessel_error "the 'nbd' protocol is not supported by vessel img" \
  info 'json:{"file.driver":"nbd","file.filename":"a.qcow2"}'
vessel_error "the 'nbd' protocol is not supported" info nbd:localhost:10809
vessel_error "does not support the option 'offset' of the 'raw' driver" \
  info --image-opts 'driver=raw,file.filename=a.qcow2,offset=512'
vessel_error "does not support the option 'data-file' of the 'qcow2' driver" \
  info 'json:{"file.filename":"a.qcow2","data-file":"x"}'
vessel_error "does not support aio=native" \
  info --image-opts 'driver=qcow2,file.filename=a.qcow2,file.aio=native'

finish "all img image name tests passed"
