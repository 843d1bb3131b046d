#!/usr/bin/env bash
# Exercise 03-1: a read-only root, then a tmpfs on /tmp.
. "$(dirname "$0")/../lib.sh"

probe='for f in /x /tmp/x /dev/x /dev/shm/x; do if touch $f 2>/dev/null; then echo "$f ok"; else echo "$f $(touch $f 2>&1 | sed "s/.*: //")"; fi; done; grep -E " / | /tmp " /proc/self/mountinfo | cut -d" " -f5,6'

if [ -n "${STAGE:-}" ]; then
	# Your copy: a read-only root, with or without the tmpfs on /tmp. A
	# copy whose root is still writable writes /x and /tmp/x into the
	# shared root filesystem: they are removed on exit.
	for f in x tmp/x; do [ -e /var/lib/cfs/rootfs/$f ] || defer "rm -f /var/lib/cfs/rootfs/$f"; done
	yours=$(answer_bin stage03-mount)
	out=$("$yours" sh -c "$probe")
	echo "$out"
	check "touch /x fails" contains "$out" "/x Read-only file system"
	check "touch /dev/x works: /dev is a tmpfs of its own" contains "$out" "/dev/x ok"
	check "touch /dev/shm/x works" contains "$out" "/dev/shm/x ok"
	check "mountinfo: / is ro" grep -q '^/ ro,' <<<"$out"
	if grep -q '^/tmp ' <<<"$out"; then
		check "/tmp is a mount of its own, and touch /tmp/x works" contains "$out" "/tmp/x ok"
	else
		check "no mount on /tmp: touch /tmp/x fails too" contains "$out" "/tmp/x Read-only file system"
	fi
	exit 0
fi

say "read-only.patch: remount the root's bind read-only before pivot_root"
ro=$(answer_bin stage03-mount "$HERE/read-only.patch")
out=$("$ro" sh -c "$probe")
echo "$out"
check "touch /x fails" contains "$out" "/x Read-only file system"
check "touch /tmp/x fails too: /tmp is a directory of the root's mount" contains "$out" "/tmp/x Read-only file system"
check "touch /dev/x works: /dev is a tmpfs of its own" contains "$out" "/dev/x ok"
check "touch /dev/shm/x works" contains "$out" "/dev/shm/x ok"
check "mountinfo: / is ro" grep -q '^/ ro,' <<<"$out"

say "and tmpfs-tmp.patch: a tmpfs on /tmp after the pivot"
rot=$(answer_bin stage03-mount "$HERE/read-only.patch" "$HERE/tmpfs-tmp.patch")
out=$("$rot" sh -c "$probe")
echo "$out"
check "touch /x still fails" contains "$out" "/x Read-only file system"
check "touch /tmp/x works now" contains "$out" "/tmp/x ok"
check "mountinfo: /tmp is a rw mount" contains "$out" "/tmp rw"
check "the host's rootfs was never written" test ! -e /var/lib/cfs/rootfs/x -a ! -e /var/lib/cfs/rootfs/tmp/x
