#!/usr/bin/env bash
# Exercise 11-1: each stage's lesson in one running `cfs run` container,
# seen from outside (namespaces, cgroup, mounts, links, nft) and from inside
# (cgroup v1 or v2). The engine runs in a network namespace of our own, so
# its bridge cfs0 and its table ip cfs are made there, never on the host's.
. "$(dirname "$0")/../lib.sh"
no_copy_to_grade

sandbox ns host
CFS=$(build "$ROOT/final" cfs)
cfs() { in_ns "$ns" "$CFS" "$@"; }
name=cfs-sol-$$
defer 'cfs rm -f "$name"'

say "cfs run -d --name $name -h lab -m 32m -p 8088:80 cfs/base sleep 1000"
cfs run -d --name "$name" -h lab -m 32m -p 8088:80 cfs/base sleep 1000 >/dev/null
pid=$(cfs inspect -f '{{.State.Pid}}' "$name")
id=$(cfs inspect -f '{{.Id}}' "$name")
addr=$(cfs inspect -f '{{.NetworkSettings.Networks.bridge.IPAddress}}' "$name")
echo "init: host PID $pid, address $addr"

say "01-04: namespaces, /proc/$pid/ns against the host's (this script's, /proc/$$/ns)"
for n in uts pid mnt ipc net; do
	c=$(readlink /proc/"$pid"/ns/$n) h=$(readlink /proc/$$/ns/$n)
	echo "$n: container $c, host $h"
	check "its own $n namespace" test "$c" != "$h"
done
check "the net namespace is not the sandbox's either (the one cfs ran in)" \
	test "$(stat -L -c %i /proc/"$pid"/ns/net)" != "$(stat -L -c %i /run/netns/"$ns")"
check "01: inside, the hostname is -h's" test "$(cfs exec "$name" hostname)" = lab
check "01: outside, the host's is not" test "$(hostname)" != lab
check "02: inside, the program is PID 1" test "$(cfs exec "$name" cat /proc/1/comm)" = sleep
nspid=$(awk '$1 == "NSpid:" {print $2, $3}' /proc/"$pid"/status)
echo "NSpid: $nspid"
check "02: outside, the same process is $pid, and 1 in its own namespace" test "$nspid" = "$pid 1"

say "03, 08: the root is an overlay, seen in /proc/$pid/mountinfo"
root=$(awk '$5 == "/" {sub(/.* - /, ""); print}' /proc/"$pid"/mountinfo | tail -n 1)
echo "/: $root"
check "03+08: / is the overlay of the image's layers" contains "$root" "overlay overlay"
check "08: its upper layer is the container's upper/" contains "$root" "upperdir=/var/lib/cfs/engine/containers/$id/upper"
check "03: inside, /proc is the container's own: one process and this ps" \
	test "$(cfs exec "$name" sh -c 'ls -d /proc/[0-9]*' | wc -l)" -le 3

say "07: the cgroup, and -m in it"
mem=$(cgroup_dir "$pid" memory)
if [ -e "$mem/memory.max" ]; then f=memory.max; else f=memory.limit_in_bytes; fi
echo "$mem/$f: $(cat "$mem/$f")"
check "07: $f is 32 MiB" test "$(cat "$mem/$f")" = 33554432
check "07: the init is in it" grep -qx "$pid" "$mem/cgroup.procs"

say "05: the veth on cfs0, and -p's DNAT rule, in the sandbox's network namespace"
ip -n "$ns" -o link show master cfs0 | cut -d' ' -f2-3
check "05: one link on the bridge cfs0, the host's end of the veth" test "$(ip -n "$ns" -o link show master cfs0 | wc -l)" = 1
check "05: it is named cfs + the ID's first 8" contains "$(ip -n "$ns" -o link show master cfs0)" ": cfs${id:0:8}@"
inside=$(cfs exec "$name" ip -4 -o addr show dev eth0)
echo "inside: $inside"
check "05: inside, eth0 has the address inspect gives" contains "$inside" "inet $addr/"
rules=$(in_ns "$ns" nft list table ip cfs)
grep -E 'dport 8088|masquerade' <<<"$rules" | sed 's/^\s*//'
check "05: -p 8088:80 is one DNAT rule to $addr:80, commented with the ID" \
	grep -qE "dport 8088 .*dnat to $addr:80 comment \"container $id" <<<"$rules"
