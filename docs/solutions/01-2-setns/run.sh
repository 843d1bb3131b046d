#!/usr/bin/env bash
# Exercise 01-2: join a container's UTS namespace from Go (main.go here).
. "$(dirname "$0")/../lib.sh"

s01=$(stage_bin stage01-uts)
prog=$(program_copy "$HERE") # with PROGRAM=DIR, your own
setns=$(build "$prog" setns)

start box "$s01" --hostname box sh -c 'echo ready; exec sleep 300'
expect_line box ready
pid=$(child_of "$box_pid")
say "container: host PID $pid"

out=$("$setns" "$pid")
echo "setns $pid: $out"
check "the program sees the container's hostname" test "$out" = box
check "nsenter -u agrees" test "$(nsenter -t "$pid" -u hostname)" = box
check "the program's own process is still on the host's name" test "$(hostname)" != box
check "the two namespaces differ" test "$(readlink /proc/"$pid"/ns/uts)" != "$(readlink /proc/self/ns/uts)"
