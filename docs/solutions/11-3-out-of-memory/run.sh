#!/usr/bin/env bash
# Exercise 11-3: -m 32m and a program that takes ever more memory: the
# kernel's OOM killer, docker's 137, and the kill counted in the cgroup's
# files (cgroup v1 or v2). --network none: nothing of the host's network.
. "$(dirname "$0")/../lib.sh"
no_copy_to_grade

# -m limits memory, and swap to as much again (docker's default), where
# the kernel accounts swap per cgroup. On a host with swap and a kernel
# that does not (booted with swapaccount=0), the hog would be swapped out,
# slowly and without end, instead of killed.
accounted() {
	[ -e /sys/fs/cgroup/memory/memory.memsw.limit_in_bytes ] && return 0
	for f in /sys/fs/cgroup/*/memory.swap.max; do [ -e "$f" ] && return 0; done
	return 1
}
if [ "$(awk '$1 == "SwapTotal:" {print $2}' /proc/meminfo)" != 0 ] && ! accounted; then
	echo "SKIP: this host has swap ($(awk '$1 == "SwapTotal:" {print $2, $3}' /proc/meminfo)) and its kernel does not limit it per cgroup: run it with swap off (sudo swapoff -a, then swapon -a)"
	exit $SKIP
fi

CFS=$(build "$ROOT/final" cfs)
cfs() { "$CFS" "$@"; }
name=cfs-sol-$$

# tail keeps the last 10 lines; /dev/zero has no newline, so its one
# "line" grows without end.
say "cfs run --rm -m 32m --network none cfs/base tail /dev/zero"
status=0
cfs run --rm -m 32m --network none cfs/base tail /dev/zero || status=$?
echo "status $status"
check "the OOM killer's SIGKILL: 137 = 128+9" test "$status" = 137

say "the same hog as a child of a shell that stays, to look at the cgroup"
defer 'cfs rm -f "$name"'
start box "$CFS" run --rm --name "$name" -m 32m --network none cfs/base \
	sh -c 'tail /dev/zero; echo hog status $?; exec sleep 1000'
expect_line box "hog status 137"
check "inside, the shell saw its child killed: 137" true
pid=$(cfs inspect -f '{{.State.Pid}}' "$name")
mem=$(cgroup_dir "$pid" memory)
if [ -e "$mem/memory.events" ]; then
	grep -E '^(max|oom|oom_kill) ' "$mem/memory.events"
	check "memory.events: the limit was hit (max)" test "$(awk '$1 == "max" {print $2}' "$mem/memory.events")" -ge 1
	check "memory.events: one OOM kill" test "$(awk '$1 == "oom_kill" {print $2}' "$mem/memory.events")" = 1
else
	grep -E '^(oom_kill_disable|under_oom|oom_kill) ' "$mem/memory.oom_control"
	echo "memory.failcnt: $(cat "$mem/memory.failcnt")"
	check "memory.failcnt: the limit was hit" test "$(cat "$mem/memory.failcnt")" -ge 1
	check "memory.oom_control: one OOM kill" test "$(awk '$1 == "oom_kill" {print $2}' "$mem/memory.oom_control")" = 1
fi
check "the container runs on: only the hog was killed" test "$(cfs inspect -f '{{.State.Status}}' "$name")" = running

say "cfs kill: the container's own end, 137 too"
cfs kill "$name" >/dev/null
finish box
echo "cfs run: status $status"
check "cfs run ends with the container's status, 137" test "$status" = 137
check "--rm removed it" sh -c '! "$0" inspect "$1" >/dev/null 2>&1' "$CFS" "$name"
