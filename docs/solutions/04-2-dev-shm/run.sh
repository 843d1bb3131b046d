#!/usr/bin/env bash
# Exercise 04-2: POSIX shared memory is files in /dev/shm, isolated by the
# mount namespace (a tmpfs per container), not by the IPC namespace.
. "$(dirname "$0")/../lib.sh"
no_copy_to_grade # what this script shows is the answer

f=cfs-sol-$$
for stage in stage04-ipc stage02-pid; do
	say "$stage sh -c 'echo hi > /dev/shm/$f; sleep 300'"
	bin=$(stage_bin "$stage")
	defer "rm -f /dev/shm/$f"
	start box "$bin" sh -c "echo hi > /dev/shm/$f; echo ready; exec sleep 300"
	expect_line box ready
	pid=$(child_of "$box_pid")
	echo "host /dev/shm/$f: $(cat /dev/shm/$f 2>&1)"
	echo "/proc/$pid/root/dev/shm/$f: $(cat /proc/$pid/root/dev/shm/$f 2>&1)"
	check "the container's /dev/shm has it" test "$(cat /proc/"$pid"/root/dev/shm/"$f")" = hi
	if [ $stage = stage04-ipc ]; then
		check "the host's /dev/shm does not" test ! -e /dev/shm/"$f"
		check "the container's /dev/shm is a tmpfs of its own" \
			test "$(stat -c %d /proc/"$pid"/root/dev/shm)" != "$(stat -c %d /dev/shm)"
		stop box
		check "and it went with the container" test ! -e /dev/shm/"$f"
	else
		check "stage 02 wrote into the host's /dev/shm" test "$(cat /dev/shm/"$f")" = hi
		stop box
		check "where it outlives the container" test -e /dev/shm/"$f"
		rm /dev/shm/"$f"
	fi
	unset box_pid
done
