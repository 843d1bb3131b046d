#!/usr/bin/env bash
# Exercise 04-3: --ipc-from PID joins a running container's IPC namespace.
. "$(dirname "$0")/../lib.sh"

s04=$(answer_bin stage04-ipc "$HERE/ipc-from.patch")
start first "$s04" --hostname first sh -c 'echo ready; exec sleep 300'
expect_line first ready
pid=$(child_of "$first_pid")
ns=$(readlink /proc/"$pid"/ns/ipc)
say "first container: host PID $pid, $ns"
made=$(nsenter -t "$pid" -i ipcmk -M 4096)
id=${made##* }
key=$(shm_key "$pid" "$id")
echo "nsenter -t $pid -i ipcmk -M 4096: $made (key $key)"
nsenter -t "$pid" -m touch /dev/mqueue/q
echo "nsenter -t $pid -m touch /dev/mqueue/q"

say "second container: --ipc-from $pid"
out=$("$s04" --hostname second --ipc-from "$pid" sh -c 'readlink /proc/self/ns/ipc; cat /proc/sysvipc/shm; ls /dev/mqueue')
echo "$out"
check "the second container is in the first's IPC namespace" test "$(head -n 1 <<<"$out")" = "$ns"
check "it sees the segment" test -n "$(awk -v k="$key" '$1 == k' <<<"$out")"
check "and the queue" grep -qx q <<<"$out"
check "the host does not see the segment" test -z "$(host_has_shm "$key" && echo yes)"

say "without the flag, a new namespace"
out=$("$s04" sh -c 'readlink /proc/self/ns/ipc; cat /proc/sysvipc/shm; ls /dev/mqueue')
echo "$out"
check "another namespace, empty" test "$(head -n 1 <<<"$out")" != "$ns" -a "$(wc -l <<<"$out")" = 2
