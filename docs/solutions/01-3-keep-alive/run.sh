#!/usr/bin/env bash
# Exercise 01-3: a bind mount of /proc/PID/ns/uts keeps the namespace alive
# after its last process has gone.
. "$(dirname "$0")/../lib.sh"
no_copy_to_grade # what this script shows is the answer

s01=$(stage_bin stage01-uts)
pin=/run/cfs-sol-$$-uts

start box "$s01" --hostname box sh -c 'echo ready; exec sleep 300'
expect_line box ready
pid=$(child_of "$box_pid")
ns=$(readlink /proc/"$pid"/ns/uts)
say "container $pid is in $ns; pinning it at $pin"
touch "$pin"
defer "rm -f $pin"
mount --bind /proc/"$pid"/ns/uts "$pin"
defer "umount $pin"
grep -F " $pin " /proc/self/mountinfo

say "stop the container"
stop box
check "the container's process is gone" test ! -e /proc/"$pid"
check "no process is left in $ns" test -z "$(lsns -n -o PID -t uts 2>/dev/null | while read -r p; do [ "$(readlink /proc/"$p"/ns/uts 2>/dev/null)" = "$ns" ] && echo "$p"; done)"

out=$(nsenter --uts="$pin" hostname)
echo "nsenter --uts=$pin hostname: $out"
check "the namespace and its hostname outlived the container" test "$out" = box
check "it is the same namespace" test "$(nsenter --uts="$pin" readlink /proc/self/ns/uts)" = "$ns"

say "clean up: umount $pin && rm $pin"
umount "$pin"
rm "$pin"
check "the pin is gone" test ! -e "$pin"
check "nsenter cannot find it any more" test -n "$(nsenter --uts="$pin" hostname 2>&1 >/dev/null || echo failed)"
