#!/usr/bin/env bash
# Exercise 03-1: a read-only root, then a tmpfs on /tmp.
. "$(dirname "$0")/../lib.sh"

probe='for f in /x /tmp/x /dev/x /dev/shm/x; do if touch $f 2>/dev/null; then echo "$f ok"; else echo "$f $(touch $f 2>&1 | sed "s/.*: //")"; fi; done; grep -E " / | /tmp " /proc/self/mountinfo | cut -d" " -f5,6'

say "read-only.patch: remount the root's bind read-only before pivot_root"
ro=$(stage_bin stage03-mount "$HERE/read-only.patch")
"$ro" true # the first run builds the default root filesystem
before=$(tree /var/lib/cfs/rootfs)
out=$("$ro" sh -c "$probe")
echo "$out"
check "touch /x fails" contains "$out" "/x Read-only file system"
check "touch /tmp/x fails too: /tmp is a directory of the root's mount" contains "$out" "/tmp/x Read-only file system"
check "touch /dev/x works: /dev is a tmpfs of its own" contains "$out" "/dev/x ok"
check "touch /dev/shm/x works" contains "$out" "/dev/shm/x ok"
check "mountinfo: / is ro" grep -q '^/ ro,' <<<"$out"

say "and tmpfs-tmp.patch: a tmpfs on /tmp after the pivot"
rot=$(stage_bin stage03-mount "$HERE/read-only.patch" "$HERE/tmpfs-tmp.patch")
out=$("$rot" sh -c "$probe")
echo "$out"
check "touch /x still fails" contains "$out" "/x Read-only file system"
check "touch /tmp/x works now" contains "$out" "/tmp/x ok"
check "mountinfo: /tmp is a rw mount" contains "$out" "/tmp rw"
check "the host's rootfs was never written" test "$(tree /var/lib/cfs/rootfs)" = "$before"
