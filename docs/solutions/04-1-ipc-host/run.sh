#!/usr/bin/env bash
# Exercise 04-1: --ipc host leaves CLONE_NEWIPC out.
. "$(dirname "$0")/../lib.sh"

s04=$(answer_bin stage04-ipc "$HERE/ipc-host.patch")
q=cfs-sol-$$
# The host has a POSIX queue: an mqueue mount shows its IPC namespace's
# queues, and creating a file there creates a queue (as mq_open does). It
# outlives the mount, so it is removed before the unmount.
mkdir "$WORK/mq"
mount -t mqueue mqueue "$WORK/mq"
defer "umount $WORK/mq"
touch "$WORK/mq/$q"
defer "rm -f $WORK/mq/$q"

inside='echo ready; read go; echo "-- /proc/sysvipc/shm"; cat /proc/sysvipc/shm; echo "-- /dev/mqueue"; ls /dev/mqueue'
for mode in private host; do
	say "--ipc $mode"
	start_in box "$s04" --ipc "$mode" sh -c "$inside"
	expect_line box ready
	pid=$(child_of "$box_pid")
	made=$(nsenter -t "$pid" -i ipcmk -M 4096)
	id=${made##* }
	echo "outside: nsenter -t $pid -i ipcmk -M 4096: $made"
	[ "$mode" = host ] && defer "ipcrm -m $id"
	key=$(shm_key "$pid" "$id")
	on_host=$(host_has_shm "$key" && echo yes || true)
	send box go
	finish box
	out=$(rest box)
	echo "$out"
	seen=$(awk -v k="$key" '$1 == k' <<<"$out")
	check "inside, /proc/sysvipc/shm lists segment $id (key $key)" test -n "$seen"
	if [ "$mode" = private ]; then
		check "the host's table does not have it" test -z "$on_host"
		check "/dev/mqueue is the container's own: no $q" test -z "$(grep -x "$q" <<<"$out")"
	else
		check "it is the host's segment: the host's table has it" test -n "$on_host"
		check "/dev/mqueue shows the host's queue $q" grep -qx "$q" <<<"$out"
		ipcrm -m "$id"
	fi
	unset box_pid
done
