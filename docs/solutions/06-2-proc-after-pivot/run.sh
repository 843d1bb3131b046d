#!/usr/bin/env bash
# Exercise 06-2: proc mounted after pivot_root fails in a user namespace
# (mount_too_revealing) and works without one.
. "$(dirname "$0")/../lib.sh"

sandbox ns host
s06=$(answer_bin stage06-user "$HERE/stage06-proc-after-pivot.patch")
s05=$(answer_bin stage05-net "$HERE/stage05-proc-after-pivot.patch")

say "stage 06 copy"
set +e
in_ns "$ns" "$s06" --net none sh -c 'echo pid $$' >"$WORK/out6" 2>"$WORK/err6"
st6=$?
in_ns "$ns" "$s05" --net none sh -c 'echo pid $$; ls /proc | grep -c "^[0-9]"' >"$WORK/out5" 2>"$WORK/err5"
st5=$?
set -e
cat "$WORK/out6" "$WORK/err6"; echo "status $st6"
check "stage 06 fails to mount proc" grep -qF "stage06-user: container: mount proc on /proc (type proc): operation not permitted" "$WORK/err6"
check "and exits 125" test "$st6" = 125
say "stage 05 copy"
cat "$WORK/out5" "$WORK/err5"; echo "status $st5"
check "stage 05 works" test "$st5" = 0
check "with a /proc of its own" test "$(sed -n 2p "$WORK/out5")" -lt 20

