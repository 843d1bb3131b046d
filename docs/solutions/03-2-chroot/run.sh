#!/usr/bin/env bash
# Exercise 03-2: chroot instead of pivot_root, and the stage's own escape test.
. "$(dirname "$0")/../lib.sh"

copy=$(answer_copy stage03-mount "$HERE/chroot.patch")
set +e
(cd "$ROOT" && go test -count=1 -run 'TestChrootEscapeFails$' "./${copy#"$ROOT"/}") >"$WORK/test.out" 2>&1
rc=$?
set -e
grep -E 'expected|actual|^(FAIL|ok)\s' "$WORK/test.out" || true
check "TestChrootEscapeFails fails on the copy" test "$rc" != 0
check 'with expected: "contained\n" actual: "escaped\n"' \
	grep -qF 'actual  : "escaped\n"' "$WORK/test.out"

say "the same test on the stage as it is"
(cd "$ROOT" && go test -count=1 -run 'TestChrootEscapeFails$' ./stage03-mount) | tail -n 1
check "passes" true
