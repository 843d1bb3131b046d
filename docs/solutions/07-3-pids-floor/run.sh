#!/usr/bin/env bash
# Exercise 07-3: why --pids has a floor: cfs-init's own threads count.
. "$(dirname "$0")/../lib.sh"

sandbox ns host
s07=$(stage_bin stage07-cgroups)
say "the stage as it is: how many threads does cfs-init have? (ls /proc/PID/task | wc -l)"
start box in_ns "$ns" "$s07" --net none --pids 10 sh -c 'echo ready; exec sleep 300'
expect_line box ready
init=$(child_of "$box_pid")
threads=$(ls /proc/"$init"/task | wc -l)
echo "cfs-init (GOMAXPROCS=1): $threads threads; pids.current $(cat /proc/"$init"/root/sys/fs/cgroup/pids/pids.current 2>/dev/null || cat /proc/"$init"/root/sys/fs/cgroup/pids.current)"
check "cfs-init alone is several tasks" test "$threads" -ge 3
stop box
unset box_pid
out=$(in_ns "$ns" "$s07" --net none --pids 5 true 2>&1 || true)
echo "--pids 5: $out"
check "the stage refuses --pids 5 (bad input)" contains "$out" "must be at least 10"

say "no-pids-floor.patch (cgroups.MinPids = 1, no GOMAXPROCS=1): --pids 5 sh -c 'echo hi', three times"
s07p=$(answer_bin stage07-cgroups "$HERE/no-pids-floor.patch")
fails=0 kinds=""
for i in 1 2 3; do
	set +e
	in_ns "$ns" "$s07p" --net none --pids 5 sh -c 'echo hi' >"$WORK/out" 2>"$WORK/err"
	status=$?
	set -e
	why=$(grep -m 1 -E 'pthread_create failed|failed to create new OS thread|resource temporarily unavailable' "$WORK/err" || true)
	echo "run $i: status $status, stdout: \"$(cat "$WORK/out")\", stderr: $why"
	[ "$status" != 0 ] && fails=$((fails + 1))
	case $status:$why in
	2:*pthread_create*Resource\ temporarily\ unavailable* | 2:*"failed to create new OS thread"*) kinds+=" runtime" ;;
	126:*"fork/exec"*"resource temporarily unavailable"*) kinds+=" fork" ;;
	*) kinds+=" other($status)" ;;
	esac
done
echo "failures:$kinds"
check "the command never runs: every run fails" test "$fails" = 3
check "each time because a thread or a process could not be created (EAGAIN from the pids controller)" \
	test -z "$(grep -o 'other' <<<"$kinds")"
echo "When the Go runtime aborts, cfs-init exits 2 (SIGABRT is caught and turned into exit 2),"
echo "and the stage passes 2 on: the same status as bad input."
