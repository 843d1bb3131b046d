#!/usr/bin/env bash
# Exercise 03-3: without make-rprivate, pivot_root fails and a mount leaks
# into the namespace the stage was started from.
. "$(dirname "$0")/../lib.sh"

s03=$(answer_bin stage03-mount "$HERE/no-rprivate.patch")
# unshare(1) makes its new namespace's mounts private first (--propagation
# private is its default), so making them shared again inside shares them
# with nothing on the host: a safe imitation of a systemd host's shared /.
out=$(unshare --mount sh -c 'mount --make-rshared /; "$0" true; echo "status $?"; grep cfs /proc/self/mountinfo; true' "$s03" 2>&1)
echo "$out"
check "pivot_root fails" contains "$out" "stage03-mount: container: pivot_root to /var/lib/cfs/rootfs: invalid argument"
check "the stage exits 125" contains "$out" "status 125"
check "the root's bind mount leaked into the outer namespace, with a shared: tag" \
	grep -qE ' /var/lib/cfs/rootfs .* shared:[0-9]+ ' <<<"$out"
check "nothing of it on the host" test -z "$(grep ' /var/lib/cfs/rootfs ' /proc/self/mountinfo)"
