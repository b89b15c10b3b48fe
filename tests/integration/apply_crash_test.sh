#!/usr/bin/env bash
# Fault drill for the local state store: `meshctl apply` of 40 objects SIGKILLed at random
# points (50 runs, alternating between two versions of every object), then "disk full"
# simulated with a file-size limit (`ulimit -f`: write() fails with EFBIG once a file
# would pass the limit; SIGXFSZ is ignored so the process sees the error instead of
# dying), then a real full filesystem (ENOSPC) on a small tmpfs in a private mount
# namespace where the test may mount one. After every run the state must load,
# `meshctl get` must list exactly the 40 objects, each one whole and at either its old
# or its new version, and no temporary file may show as an object.
# Usage: apply_crash_test.sh path/to/meshctl
set -uo pipefail
MESHCTL=$1
work=$(mktemp -d /tmp/meshctl-apply-crash.XXXXXX)
trap 'rm -rf "$work"' EXIT
export MESHCTL_STATE_DIR=$work/state
failed=0
fail() {
  echo "FAIL $*"
  failed=$((failed + 1))
}

# Version $1 of 40 VirtualServices; version b is padded past 4 KiB per object so the
# file-size limit below hits it.
manifest() {
  local version=$1 pad="" i
  [ "$version" = b ] && pad=$(head -c 5000 /dev/zero | tr '\0' 'p')
  for i in $(seq 1 40); do
    cat <<YAML
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: vs-$i
  namespace: drill
  labels: {drill-version: "$version"}
  annotations: {drill/pad: "$pad"}
spec:
  hosts: [vs-$i.drill.example]
  http:
  - route:
    - destination: {host: app-$i.drill.svc.cluster.local}
YAML
  done
}
manifest a >"$work/a.yaml"
manifest b >"$work/b.yaml"

# Checks the state: prints "a=N b=M" or a failure reason.
check_state() {
  local out
  if ! "$MESHCTL" get virtualservices -n drill -o yaml >"$work/get.yaml" 2>"$work/get.err"; then
    echo "meshctl get failed: $(cat "$work/get.err")"
    return 1
  fi
  python3 - "$MESHCTL_STATE_DIR" "$work/get.yaml" <<'PY'
import os, sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[2])) if d]
items = []
for d in docs:
    items += d.get("items", [d]) if d.get("kind", "").endswith("List") else [d]
versions = {}
for it in items:
    v = it["metadata"].get("labels", {}).get("drill-version")
    pad = it["metadata"].get("annotations", {}).get("drill/pad", "")
    whole = (v == "a" and pad == "") or (v == "b" and len(pad) == 5000)
    if not whole or it["spec"]["hosts"] != ["%s.drill.example" % it["metadata"]["name"]]:
        print("torn or mixed object: %s" % it["metadata"]["name"]); sys.exit(1)
    versions[v] = versions.get(v, 0) + 1
names = sorted(it["metadata"]["name"] for it in items)
if names != sorted("vs-%d" % i for i in range(1, 41)):
    print("listed %d objects, not vs-1..vs-40: %s" % (len(names), names[:5])); sys.exit(1)
# Every visible object file is whole YAML; temporary files are dot-files.
for root, _, files in os.walk(os.path.join(sys.argv[1], "objects")):
    for f in files:
        if not f.startswith(".") and not f.endswith(".yaml"):
            print("stray file shown as object: %s" % f); sys.exit(1)
print("a=%d b=%d" % (versions.get("a", 0), versions.get("b", 0)))
PY
}

"$MESHCTL" create namespace drill >/dev/null 2>&1
"$MESHCTL" apply -f "$work/a.yaml" >/dev/null || fail "initial apply"
state=$(check_state) || fail "initial state: $state"
[ "$state" = "a=40 b=0" ] || fail "initial state is $state"

# 50 SIGKILLs at random points (0-60 ms into the apply; an apply of 40 objects takes
# longer than that here, so most kills land mid-write).
mixed=0
for run in $(seq 1 50); do
  target=$([ $((run % 2)) = 0 ] && echo a || echo b)
  "$MESHCTL" apply -f "$work/$target.yaml" >/dev/null 2>&1 &
  pid=$!
  sleep "0.0$((RANDOM % 6))$((RANDOM % 10))"
  kill -9 "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  if ! state=$(check_state); then
    fail "kill run $run: $state"
    break
  fi
  case $state in "a=40 b=0" | "a=0 b=40") ;; *) mixed=$((mixed + 1)) ;; esac
done
echo "  kill -9 drill: 50 runs, $mixed left a mix of old and new objects (each one whole)"
tmp_files=$(find "$MESHCTL_STATE_DIR" -name '.*.tmp.*' | wc -l)
echo "  leftover temporary files (ignored by the store): $tmp_files"

# A completed apply after the kills repairs everything.
"$MESHCTL" apply -f "$work/a.yaml" >/dev/null || fail "apply after kills"
state=$(check_state) && [ "$state" = "a=40 b=0" ] || fail "state after a full apply: $state"

# Disk full: every version-b object is larger than the 4 KiB file-size limit.
err=$(bash -c "trap '' XFSZ; ulimit -f 4; exec '$MESHCTL' apply -f '$work/b.yaml'" 2>&1 >/dev/null)
rc=$?
[ $rc -ne 0 ] || fail "apply on a full disk exited 0"
case $err in *"File too large"* | *EFBIG* | *"No space"*) ;; *) fail "no clear error on a full disk: $err" ;; esac
echo "  disk full: exit $rc, $(echo "$err" | tail -1)"
state=$(check_state) || fail "state after disk full: $state"
[ "$state" = "a=40 b=0" ] || fail "disk full changed objects: $state"
[ "$(find "$MESHCTL_STATE_DIR" -name '.*.tmp.*' -newer "$work/b.yaml" | wc -l)" -le "$tmp_files" ] ||
  fail "the failed writes left temporary files behind"
"$MESHCTL" apply -f "$work/b.yaml" >/dev/null || fail "apply once space is back"
state=$(check_state) && [ "$state" = "a=0 b=40" ] || fail "state after space is back: $state"

# A real full filesystem (ENOSPC): the state on a 2 MiB tmpfs in a private mount
# namespace, filled to the last page after the first apply. Needs CAP_SYS_ADMIN (root, or
# a user namespace); skipped with a message where mounting is not allowed.
enospc_drill() {
  local full=$work/full err rc state
  mkdir -p "$full"
  if ! mount -t tmpfs -o size=2m tmpfs "$full" 2>/dev/null; then
    echo "  ENOSPC: SKIP (cannot mount a tmpfs here)"
    return 0
  fi
  export MESHCTL_STATE_DIR=$full/state
  "$MESHCTL" create namespace drill >/dev/null 2>&1
  "$MESHCTL" apply -f "$work/a.yaml" >/dev/null || { echo "FAIL ENOSPC: apply on the empty tmpfs"; return 1; }
  dd if=/dev/zero of="$full/filler" bs=4k 2>/dev/null  # stops at ENOSPC
  err=$("$MESHCTL" apply -f "$work/b.yaml" 2>&1 >/dev/null)
  rc=$?
  echo "  ENOSPC: exit $rc, $(echo "$err" | tail -1)"
  [ $rc -ne 0 ] || { echo "FAIL ENOSPC: apply on a full filesystem exited 0"; return 1; }
  case $err in *"No space left on device"*) ;; *) echo "FAIL ENOSPC: no clear error: $err"; return 1 ;; esac
  state=$(check_state) || { echo "FAIL ENOSPC: state after disk full: $state"; return 1; }
  [ "$state" = "a=40 b=0" ] || { echo "FAIL ENOSPC: a full disk changed objects: $state"; return 1; }
  [ "$(find "$MESHCTL_STATE_DIR" -name '.*.tmp.*' | wc -l)" -eq 0 ] ||
    { echo "FAIL ENOSPC: the failed writes left temporary files behind"; return 1; }
  rm -f "$full/filler"
  "$MESHCTL" apply -f "$work/b.yaml" >/dev/null || { echo "FAIL ENOSPC: apply once space is back"; return 1; }
  state=$(check_state) && [ "$state" = "a=0 b=40" ] || { echo "FAIL ENOSPC: state after space is back: $state"; return 1; }
  umount "$full"
}
if command -v unshare >/dev/null && unshare -m true 2>/dev/null; then
  export -f enospc_drill check_state
  export MESHCTL work
  unshare -m --propagation private bash -c enospc_drill || fail "ENOSPC drill"
else
  echo "  ENOSPC: SKIP (no private mount namespace: unshare -m is not allowed here)"
fi

if [ $failed -eq 0 ]; then echo "PASS apply crash drill"; else echo "$failed failed"; fi
[ $failed -eq 0 ]
