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
# SIGTERM follows at once, and the shell traps it too: a stage that loses
# SIGUSR1 then ends with "got TERM" instead of waiting for sleep 300. One
# that passes both on passes SIGUSR1 first: Go's runtime hands pending
# signals over lowest number first, and so does dash's trap loop.
start fwd "$s02p" sh -c 'trap "echo got TERM; exit 11" TERM; '"$cmd"
expect_line fwd ready
kill -USR1 "$fwd_pid"
kill -TERM "$fwd_pid" 2>/dev/null || true # it may have ended already
expect_line fwd "got USR1"
check "stage → cfs-init → sh: the trap ran" true
finish fwd
echo "status $status"
check "the stage passed the command's status (the trap's exit 10) on" test "$status" = 10
