#!/usr/bin/env bash
# Exercise 09-2: between create and start, a network for the container,
# by a createRuntime hook (as a CNI plugin), in a network namespace of our
# own that plays the host.
. "$(dirname "$0")/../lib.sh"

sandbox ns host
runtime_bundle
answer_config "$HERE/edit.sh"

say "create, where the runtime runs in $ns: the hook runs before create returns"
runtime_create in_ns "$ns"
check "the container is created: its program has not run" state_is created
ip -n "$ns" -br addr show
check "the host's end of the pair is there, with 10.99.0.1" contains "$(ip -n "$ns" -o addr show dev cfs-ex0 2>&1)" "inet 10.99.0.1/24"
check "the container's end is eth0 in its namespace, not here" contains "$(nsenter -t "$pid" -n ip -o addr show dev eth0 2>&1)" "inet 10.99.0.2/24"
check "the container answers a ping before its program has started" in_ns "$ns" ping -c 1 -W 5 10.99.0.2

say "start: the program sees the network the hook made"
"$CFS" runtime start "$ID"
waitgone "$pid"
cat "$WORK/out"
check "its eth0 has 10.99.0.2/24" grep -q 'eth0 *inet 10.99.0.2/24' "$WORK/out"

say "delete: the namespace goes, and the veth pair with it"
"$CFS" runtime delete "$ID"
for ((i = 0; i < 100; i++)); do # the kernel removes a namespace's links after, in a worker
	ip -n "$ns" link show cfs-ex0 >/dev/null 2>&1 || break
	sleep 0.1
done
check "no cfs-ex0 left where the runtime ran" test -z "$(ip -n "$ns" link show cfs-ex0 2>/dev/null)"
