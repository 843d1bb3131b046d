#!/usr/bin/env bash
# Exercise 09-1: a config.json of your own, created, looked at from
# outside, started (cgroup v1 or v2).
. "$(dirname "$0")/../lib.sh"

runtime_bundle
answer_config "$HERE/edit.sh"

say "create: the init is made and set up, and waits before the program"
runtime_create
"$CFS" runtime state "$ID"
check "the container is created, not running" state_is created
check "its init is the runtime's own binary, waiting (not sleep yet)" test "$(cat /proc/"$pid"/comm)" != sleep
check "hostname lab in its UTS namespace (stage 01)" test "$(nsenter -t "$pid" -u hostname)" = lab
pids=$(cgroup_dir "$pid" pids)
echo "outside: $pids/pids.max: $(cat "$pids/pids.max")"
check "its cgroup allows 20 processes (stage 07), written before the program runs" test "$(cat "$pids/pids.max")" = 20

say "start: the init becomes the program, with the same PID"
"$CFS" runtime start "$ID"
check "the container is running" state_is running
check "PID $pid is now sleep" test "$(cat /proc/"$pid"/comm)" = sleep
grep -E '^(Uid|Gid):' /proc/"$pid"/status
check "it runs as uid 1000 (stage 06's setresuid)" grep -qP '^Uid:\t1000\t1000\t1000\t1000$' /proc/"$pid"/status
check "and gid 1000" grep -qP '^Gid:\t1000\t1000\t1000\t1000$' /proc/"$pid"/status
check "without a terminal: its stdin is create's, /dev/null" test "$(readlink /proc/"$pid"/fd/0)" = /dev/null

say "delete --force: the init, the cgroup, the state go"
"$CFS" runtime delete --force "$ID"
check "no state" test ! -e "/run/cfs/runtime/$ID"
check "no cgroup" test ! -e "$pids"
