#!/usr/bin/env bash
# Exercise 08-1: --read-only: an overlay of lower layers only, a tmpfs on /tmp.
. "$(dirname "$0")/../lib.sh"

sandbox ns host
s08=$(answer_bin stage08-layers "$HERE/read-only.patch")
probe='touch /etc/x 2>&1 || echo "etc: refused"; touch /tmp/x && echo "tmp: ok"; cat /etc/hostname; awk "\$5 == \"/\" || \$5 == \"/tmp\" {print \$5, \$6, \$(NF-2), \$NF}" /proc/self/mountinfo'
for args in "" "--rootfs /var/lib/cfs/rootfs"; do
	say "--read-only $args"
	# shellcheck disable=SC2086
	out=$(in_ns "$ns" "$s08" --net none --hostname ro --read-only $args sh -c "$probe")
	echo "$out"
	check "touch /etc/x fails" contains "$out" "Read-only file system"
	check "touch /tmp/x works" contains "$out" "tmp: ok"
	check "the /etc binds still work (/etc/hostname is the container's)" grep -qx ro <<<"$out"
	check "/ is an overlay with lowerdir only" grep -qE '^/ \S+ overlay ro,lowerdir=' <<<"$out"
	check "no upperdir" test -z "$(grep -E '^/ .*upperdir' <<<"$out")"
done
say "without --read-only, the same probe writes into the upper layer"
out=$(in_ns "$ns" "$s08" --net none sh -c "$probe")
check "touch /etc/x works" test -z "$(grep 'refused' <<<"$out")"
check "the host's image was never written" test ! -e /var/lib/cfs/rootfs/etc/x

say "why two lower layers: overlay without upperdir refuses one"
mkdir "$WORK/l1" "$WORK/l2" "$WORK/m"
set +e
unshare --mount sh -c 'mount -t overlay overlay -o lowerdir="$0" "$1"' "$WORK/l1" "$WORK/m" 2>/dev/null
one=$?
unshare --mount sh -c 'mount -t overlay overlay -o lowerdir="$0:$1" "$2"' "$WORK/l1" "$WORK/l2" "$WORK/m"
two=$?
set -e
dmesg 2>/dev/null | grep -o 'overlayfs: at least 2 lowerdir are needed.*' | tail -n 1 || true
check "lowerdir=ONE fails" test "$one" != 0
check "lowerdir=ONE:TWO mounts" test "$two" = 0
