#!/usr/bin/env bash
# Exercise 05-3: without a MAC address of its own, the bridge takes its
# lowest port's, and changes it when ports come and go.
. "$(dirname "$0")/../lib.sh"

mac() { ip -n "$ns" -o link show "$1" | grep -o 'link/ether [0-9a-f:]*' | cut -d' ' -f2; }
ports() { ip -n "$ns" -o link show master cfs0 | awk -F': ' '{print $2}' | cut -d@ -f1; }
gw_entry() { nsenter -t "$1" -n ip neigh show 172.29.0.1 | grep -o 'lladdr [0-9a-f:]*' | cut -d' ' -f2; }
# Each container asks for its gateway's MAC address (ARP) once, at start.
cmd='ping -c 1 172.29.0.1 >/dev/null; echo ready; exec sleep 300'

for variant in stage patched; do
	if [ $variant = stage ]; then
		say "the stage as it is (la.HardwareAddr = hostnet.RandomMAC())"
		bin=$(stage_bin stage05-net)
	else
		say "no-fixed-mac.patch"
		bin=$(answer_bin stage05-net "$HERE/no-fixed-mac.patch")
	fi
	sandbox ns host
	start a in_ns "$ns" "$bin" --hostname a sh -c "$cmd"
	expect_line a ready
	pid_a=$(child_of "$a_pid")
	port_a=$(ports)
	mac_a=$(mac "$port_a")
	t1=$(mac cfs0)
	start b in_ns "$ns" "$bin" --hostname b sh -c "$cmd"
	expect_line b ready
	pid_b=$(child_of "$b_pid")
	port_b=$(ports | grep -vx "$port_a")
	mac_b=$(mac "$port_b")
	t2=$(mac cfs0)
	a_sees=$(gw_entry "$pid_a")
	stop a
	unset a_pid
	t3=$(mac cfs0)
	b_sees=$(gw_entry "$pid_b")
	echo "ports: a $mac_a, b $mac_b"
	echo "cfs0: a alone $t1, a and b $t2, b alone $t3"
	echo "gateway entries: a's $a_sees (while b joined), b's $b_sees (after a left)"
	if [ $variant = stage ]; then
		check "the bridge keeps one address throughout" test "$t1" = "$t2" -a "$t2" = "$t3"
		check "and every container's gateway entry stays right" test "$a_sees" = "$t2" -a "$b_sees" = "$t3"
	else
		lowest=$(printf '%s\n' "$mac_a" "$mac_b" | sort | head -n 1)
		check "alone, the bridge had a's port's address" test "$t1" = "$mac_a"
		check "with two ports, the lowest of them ($lowest)" test "$t2" = "$lowest"
		check "after a left, b's port's" test "$t3" = "$mac_b"
		if [ "$t1" != "$t2" ]; then
			check "b's port was lower: a's gateway entry went stale when b joined" test "$a_sees" = "$t1"
		else
			check "a's port was lower: b's gateway entry went stale when a left" test "$b_sees" = "$t2" -a "$t2" != "$t3"
		fi
	fi
	stop b
	unset b_pid
done

# The stage's own test catches it only now and then (a stale entry costs a
# timeout only if a packet goes out before the kernel re-checks it):
# CFS_SOL_SLOW=1 runs it as the exercise says.
if [ "${CFS_SOL_SLOW:-}" = 1 ]; then
	copy=$(answer_copy stage05-net "$HERE/no-fixed-mac.patch")
	gotest "$copy" -test.count=5 -test.run 'TestNetwork/ConcurrentContainersGetDistinctAddresses$' || true
fi
