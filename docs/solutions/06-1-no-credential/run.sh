#!/usr/bin/env bash
# Exercise 06-1: without Credential{Uid: 0}, the child is not root of its
# user namespace at execve, and starts with no capabilities.
. "$(dirname "$0")/../lib.sh"

sandbox ns host
s06=$(answer_bin stage06-user "$HERE/no-credential.patch")
set +e
in_ns "$ns" "$s06" --net none id >"$WORK/out" 2>"$WORK/err"
status=$?
set -e
cat "$WORK/out" "$WORK/err"
echo "status $status"
check "sethostname fails" grep -qF "stage06-user: container: sethostname: operation not permitted" "$WORK/err"
check "the stage exits 125" test "$status" = 125
check "cfs-init ran as the overflow uid (unmapped host uid 0)" grep -qP '^Uid:\t65534\t65534\t65534\t65534$' "$WORK/err"
check "with no capabilities" grep -qP '^CapEff:\t0000000000000000$' "$WORK/err"
check "id never ran" test ! -s "$WORK/out"
