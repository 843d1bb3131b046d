#!/usr/bin/env bash
# Exercise 07-1: --cpuset-cpus pins the container to some CPUs (cgroup v1 or v2).
. "$(dirname "$0")/../lib.sh"

sandbox ns host
s07=$(answer_bin stage07-cgroups "$HERE/cpuset-cpus.patch")
ncpu=$(nproc)
echo "host: $(grep Cpus_allowed_list /proc/self/status), nproc $ncpu"
if [ "$(stat -f -c %T /sys/fs/cgroup)" = cgroup2fs ]; then v=2; else v=1; fi

say "--cpuset-cpus 0 (cgroup v$v)"
start box in_ns "$ns" "$s07" --net none --cpuset-cpus 0 sh -c 'grep Cpus_allowed_list /proc/self/status; nproc; ls /sys/fs/cgroup; echo ready; exec sleep 300'
expect_line box ready
cat "$WORK/box.seen"
check "inside, the shell may run on CPU 0 only" grep -qP '^Cpus_allowed_list:\t0$' "$WORK/box.seen"
check "nproc says 1" grep -qx 1 "$WORK/box.seen"
init=$(child_of "$box_pid")
cg=$(awk -F: '$2 ~ /(^|,)cpuset(,|$)/ || $1 == 0 {print $3; exit}' /proc/"$init"/cgroup)
if [ $v = 1 ]; then
	check "v1: a cpuset hierarchy is mounted inside" grep -qx cpuset "$WORK/box.seen"
	dir=/sys/fs/cgroup/cpuset$cg eff=cpuset.effective_cpus
else
	dir=/sys/fs/cgroup$cg eff=cpuset.cpus.effective
fi
echo "outside: $dir: cpuset.cpus $(cat "$dir/cpuset.cpus"), cpuset.mems $(cat "$dir/cpuset.mems"), $eff $(cat "$dir/$eff")"
check "the cgroup's cpuset.cpus is 0" test "$(cat "$dir/cpuset.cpus")" = 0
check "so is the effective set" test "$(cat "$dir/$eff")" = 0
stop box
unset box_pid
check "the cgroup went with the container" test ! -e "$dir"

say "a --cpuset-cpus the kernel refuses: CPU $ncpu does not exist"
set +e
in_ns "$ns" "$s07" --net none --cpuset-cpus "$ncpu" true 2>"$WORK/err"
status=$?
set -e
cat "$WORK/err"
check "the stage fails (125) before the command runs" test $status = 125
check "on writing cpuset.cpus" grep -q 'cpuset.cpus' "$WORK/err"
