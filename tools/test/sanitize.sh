#!/usr/bin/env bash
# The C-level tests under AddressSanitizer and UndefinedBehaviorSanitizer.
# Builds the C core and the drop-in libaio into build-sanitize/ (apart from
# node-gyp's build/), then runs against them: the bad-input driver
# (test/fixtures/fuzz_headers.c: a million random and mutated headers and
# ring files), the reader zoo, the libaio call semantics, aioring_setup2 and
# the lease protocol's processes (one of them killed mid-claim), the
# raw-syscall reaper on engine contexts (both routes).
# Any finding stops the run with a non-zero exit.
#
# usage: tools/test/sanitize.sh [fuzz_headers options: -s seed -n headers -f files]
set -euo pipefail
cd "$(dirname "$0")/../.."

cc=${CC:-cc}
out=build-sanitize
flags=(-std=gnu11 -D_GNU_SOURCE -Wall -Wextra -Werror -fPIC -g -O1 -fno-omit-frame-pointer
  -fsanitize=address,undefined -fno-sanitize-recover=all)
# the core's sources, as native/core/core.gypi lists them for node-gyp
mapfile -t core < <(python3 -c "
exec('gypi = (' + open('native/core/core.gypi').read() + ')')
print('\n'.join('native/core/' + f for f in gypi['targets'][0]['sources']))")
# the uring backend, where the build finds liburing.a as core.gypi does
uring_lib=()
if [ -f "$(pkg-config --variable=libdir liburing 2>/dev/null)/liburing.a" ]; then
  core+=(native/core/engine_uring.c)
  flags+=(-DAIORING_HAVE_URING)
  uring_lib=(-l:liburing.a)
fi
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:strict_string_checks=1:check_initialization_order=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

rm -rf "$out"
mkdir -p "$out"
"$cc" "${flags[@]}" -Inative/core -Icompat/include "${core[@]}" test/fixtures/fuzz_headers.c -o "$out/fuzz_headers" "${uring_lib[@]}" -lpthread
"$cc" "${flags[@]}" -shared -fvisibility=hidden -Inative/core -Icompat/include "${core[@]}" \
  compat/libaio_shim.c compat/context_table.c compat/kernel_contract.c compat/syscall_route.c -Wl,--version-script=compat/libaio.map -Wl,-soname,aioring-libaio.so \
  -o "$out/aioring-libaio.so" "${uring_lib[@]}" -lpthread
# lease_ring stops the protocol through the core's test hook
for fixture in lease_ring; do
  "$cc" "${flags[@]}" -DAIORING_TEST_HOOKS -Inative/core -Icompat/include "${core[@]}" "test/fixtures/$fixture.c" -o "$out/$fixture" "${uring_lib[@]}" -lpthread
done
for fixture in ring_readers libaio_semantics aioring_setup2; do
  "$cc" "${flags[@]}" -Icompat/include -Inative/core "test/fixtures/$fixture.c" "$out/aioring-libaio.so" \
    -Wl,-rpath,'$ORIGIN' -o "$out/$fixture"
done
# the raw-syscall reaper, through syscall() and with syscall instructions of its own
for inline in 0 1; do
  "$cc" "${flags[@]}" -DREAP_INLINE=$inline test/fixtures/raw_reap.c "$out/aioring-libaio.so" \
    -Wl,-rpath,'$ORIGIN' -o "$out/raw_reap$inline" -lpthread
done

run() {
  echo "sanitize: $*"
  "$@" >"$out/last.log" 2>&1 || {
    cat "$out/last.log"
    echo "sanitize: FAILED: $*" >&2
    exit 1
  }
}

# the driver prints its seed and summary; a finding aborts it
"$out/fuzz_headers" -d "${TMPDIR:-/tmp}" "$@"
for ring in legacy v2; do
  for reader in libaio fio seastar spdk qemu xnvme criu; do
    AIORING_RING=$ring run "$out/ring_readers" "$reader" shim 200
  done
  AIORING_RING=$ring run "$out/libaio_semantics" shim
  if [ ${#uring_lib[@]} -gt 0 ]; then
    AIORING_RING=$ring AIORING_BACKEND=uring run "$out/ring_readers" libaio shim 200
    AIORING_RING=$ring AIORING_BACKEND=uring run "$out/libaio_semantics" shim
  fi
  for inline in 0 1; do
    AIORING_RING=$ring run "$out/raw_reap$inline" "${TMPDIR:-/var/tmp}"
  done
done
run "$out/aioring_setup2"

# one producer, three consumers on a leased ring; one consumer kills itself
# right after a claim CAS, the survivors take its claim over
lease=$(mktemp -u /dev/shm/aioring-sanitize-XXXXXX)
trap 'rm -f "$lease" "$lease.log"' EXIT
# a victim the others starved of claims finishes before its kill point (it
# exits 0); that run is still checked, and the scenario runs again, up to 5 times
killed=0
for attempt in 1 2 3 4 5; do
  rm -f "$lease" "$lease.log"
  run "$out/lease_ring" create "$lease" 256 4 200000
  timeout 120 "$out/lease_ring" produce "$lease" 200000 & producer=$!
  timeout 120 "$out/lease_ring" consume "$lease" 16 claimed 50 & victim=$!
  timeout 120 "$out/lease_ring" consume "$lease" 16 & a=$!
  timeout 120 "$out/lease_ring" consume "$lease" 16 & b=$!
  echo "sanitize: lease_ring, 200000 events, a consumer killed mid-claim (attempt $attempt)"
  status=0
  wait "$victim" || status=$?
  # timeout passes the child's death by SIGKILL on as 128 + 9
  if [ "$status" -ne 137 ] && [ "$status" -ne 0 ]; then
    echo "sanitize: FAILED: the lease_ring victim ended with $status, not SIGKILL" >&2
    exit 1
  fi
  for p in "$producer" "$a" "$b"; do
    wait "$p" || { echo "sanitize: FAILED: lease_ring process $p (a finding, or a stall past 120 s)" >&2; exit 1; }
  done
  if [ "$status" -eq 137 ]; then
    killed=1
    break
  fi
  echo "sanitize: the victim was starved of claims and finished first; again"
done
if [ "$killed" -ne 1 ]; then
  echo "sanitize: FAILED: in 5 attempts the lease_ring victim was never killed mid-claim" >&2
  exit 1
fi
echo "sanitize: no findings"
