#!/usr/bin/env bash
# Exercise 02-3: forward SIGUSR1, SIGUSR2 and SIGWINCH through both hops.
. "$(dirname "$0")/../lib.sh"

cmd='trap "echo got USR1" USR1; echo ready; sleep 300 & wait'

say "the stage as it is: kill -USR1 STAGE"
s02=$(stage_bin stage02-pid)
start plain "$s02" sh -c "$cmd"
expect_line plain ready
kill -USR1 "$plain_pid"
# The stage is Go: a signal that no signal.Notify asks for is caught by the
# runtime and dropped. SIGTERM, which it does forward, then ends the shell.
kill -TERM "$plain_pid"
finish plain
rest plain >>"$WORK/plain.seen"
echo "status $status"
check "the stage went on after SIGUSR1 and passed SIGTERM on (128+15)" test "$status" = 143
check "the command never heard SIGUSR1" test -z "$(grep 'got USR1' "$WORK/plain.seen")"

say "with forward-more-signals.patch"
s02p=$(stage_bin stage02-pid "$HERE/forward-more-signals.patch")
start fwd "$s02p" sh -c "$cmd"
expect_line fwd ready
kill -USR1 "$fwd_pid"
expect_line fwd "got USR1"
check "stage → cfs-init → sh: the trap ran" true
finish fwd
echo "status $status (the shell's interrupted wait: 128+10)"
check "the stage passed the command's status on" test "$status" = 138
