#!/usr/bin/env bash
# Exercise 02-3: forward SIGUSR1, SIGUSR2 and SIGWINCH through both hops.
. "$(dirname "$0")/../lib.sh"

# The trap exits, so that the run ends the same way whether SIGUSR1 comes
# while the shell waits or just before (it is sent as soon as "ready" is
# read, which the shell prints before it starts sleep).
cmd='trap "echo got USR1; exit 10" USR1; echo ready; sleep 300 & wait'

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
s02p=$(answer_bin stage02-pid "$HERE/forward-more-signals.patch")
# Only SIGUSR1 this time: sent with SIGTERM right behind, which of the two
# traps the shell runs last is a race (dash may run the TERM trap while it
# exits from the USR1 one). A stage that loses SIGUSR1 shows as no "got
# USR1" before sleep 5 ends and the shell exits 0.
start fwd "$s02p" sh -c "${cmd/sleep 300/sleep 5}"
expect_line fwd ready
kill -USR1 "$fwd_pid"
expect_line fwd "got USR1"
check "stage → cfs-init → sh: the trap ran" true
finish fwd
echo "status $status"
check "the stage passed the command's status (the trap's exit 10) on" test "$status" = 10
