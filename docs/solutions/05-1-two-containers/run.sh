#!/usr/bin/env bash
# Exercise 05-1: two containers talk over the bridge; the bridge learns
# their MAC addresses.
. "$(dirname "$0")/../lib.sh"
no_copy_to_grade # what this script shows is the answer
need_in_rootfs nc "netcat-openbsd, or busybox-static"

sandbox ns host
s05=$(stage_bin stage05-net)
say "terminal 1: s05 --hostname a nc -l -p 7000   (in network namespace $ns)"
# start_in: a's stdin stays open, as a terminal's does. From /dev/null, nc -l
# would shut its sending half at once, and b's nc, seeing that end before
# reading its "hi" from echo, could leave without sending it.
start_in a in_ns "$ns" "$s05" --hostname a sh -c 'echo ready; nc -l -p 7000; echo done; exec sleep 300'
expect_line a ready
pid_a=$(child_of "$a_pid") # nsenter executes the stage: a_pid is the stage, its child cfs-init
wait_listen "-t $pid_a -n" 7000
say "terminal 2: s05 sh -c 'echo hi | nc 172.29.0.2 7000'"
start b in_ns "$ns" "$s05" --hostname b sh -c 'echo hi | nc 172.29.0.2 7000; ip -4 -o addr show eth0; echo sent; exec sleep 300'
expect_line b sent
expect_line a done
cat "$WORK/a.seen" "$WORK/b.seen"
check "a got \"hi\" from b" grep -qx hi "$WORK/a.seen"
check "b got 172.29.0.3" grep -q 'inet 172.29.0.3/24' "$WORK/b.seen"

pid_b=$(child_of "$b_pid")
mac_a=$(nsenter -t "$pid_a" -n ip -o link show eth0 | grep -o 'link/ether [0-9a-f:]*' | cut -d' ' -f2)
mac_b=$(nsenter -t "$pid_b" -n ip -o link show eth0 | grep -o 'link/ether [0-9a-f:]*' | cut -d' ' -f2)
say "bridge fdb show br cfs0   (a's eth0 is $mac_a, b's $mac_b)"
fdb=$(in_ns "$ns" bridge fdb show br cfs0)
echo "$fdb"
check "the bridge learned a's MAC on a's port" grep -q "^$mac_a dev cfs[0-9a-f]* master cfs0 *$" <<<"$fdb"
check "and b's on b's" grep -q "^$mac_b dev cfs[0-9a-f]* master cfs0 *$" <<<"$fdb"
check "the permanent entries are the bridge's own ports" grep -q "permanent" <<<"$fdb"
check "a's and b's entries are on different ports" \
	test "$(grep "^$mac_a " <<<"$fdb" | awk '{print $3}')" != "$(grep "^$mac_b " <<<"$fdb" | awk '{print $3}')"
