#!/usr/bin/env bash
# Exercise 02-1: PID 1 reaps an orphan; with wait4(command) it does not.
. "$(dirname "$0")/../lib.sh"

s02=$(stage_bin stage02-pid)
start box "$s02" sh -c '(sleep 2 &); echo ready; exec sleep 300'
expect_line box ready
pid=$(child_of "$box_pid")
say "ps -o pid,ppid,stat,args --ppid $pid   (cfs-init's children)"
ps -o pid,ppid,stat,args --ppid "$pid" | tee "$WORK/ps1"
orphan=$(awk '$4 == "sleep" && $5 == "2" {print $1}' "$WORK/ps1")
check "the orphan 'sleep 2' was handed to cfs-init ($pid)" test -n "$orphan"
waitgone "$orphan"
say "after the orphan ended"
ps -o pid,ppid,stat,args --ppid "$pid" | tee "$WORK/ps2"
check "no zombie under cfs-init" test -z "$(awk '$3 ~ /^Z/' "$WORK/ps2")"
check "only the command is left" test "$(awk 'NR > 1 {print $4, $5}' "$WORK/ps2")" = "sleep 300"
stop box

say "a copy whose reap waits for the command only: unix.Wait4(command, …)"
copy=$(answer_copy stage02-pid "$HERE/wait-for-command-only.patch")
set +e
(cd "$ROOT" && go test -count=1 -run 'TestOrphanedZombieIsReaped$' "./${copy#"$ROOT"/}") >"$WORK/test.out" 2>&1
rc=$?
set -e
grep -E 'still there|zombies under PID 1|^(FAIL|ok)\s' "$WORK/test.out" || true
check "the stage's own test fails on the copy" test "$rc" != 0
check "because the orphan stays a zombie" grep -q "zombies under PID 1: \[/proc/[0-9]*/status\]" "$WORK/test.out"
