#!/bin/sh
# A network for a container, as a CNI plugin gives one: a veth pair, one
# end (cfs-ex0, 10.99.0.1/24) where the runtime runs, the other moved into
# the container's network namespace as eth0 (10.99.0.2/24). The container's
# state comes on stdin, as the runtime gives it to a hook (one line of
# JSON) and as `cfs runtime state ID` prints it:
#
#	cfs runtime state ID | ./net-hook.sh
set -eu
pid=$(grep -o '"pid": *[0-9]*' | tr -dc 0-9)
[ -n "$pid" ] || { echo "net-hook: no pid in the state on stdin" >&2; exit 1; }
# Same as stage 05's parent: the peer is created straight in the
# namespace of the container's init, by its PID.
ip link add cfs-ex0 type veth peer name eth0 netns "$pid"
ip addr add 10.99.0.1/24 dev cfs-ex0
ip link set cfs-ex0 up
nsenter -t "$pid" -n ip addr add 10.99.0.2/24 dev eth0
nsenter -t "$pid" -n ip link set eth0 up
