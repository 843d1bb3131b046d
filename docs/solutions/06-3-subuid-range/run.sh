#!/usr/bin/env bash
# Exercise 06-3: a range of its own in /etc/subuid and /etc/subgid.
. "$(dirname "$0")/../lib.sh"

# The files are restored exactly (content, mode, times) on exit; they
# must not already name a range for root, or the line below would not be
# the first one the stage reads.
for f in /etc/subuid /etc/subgid; do
	if [ -e $f ]; then
		grep -q '^root:' $f && fail "$f already has a range for root; this script would not be the one deciding"
		cp -p $f "$WORK/$(basename $f).orig"
		defer "cp -p $WORK/$(basename $f).orig $f"
	else
		defer "rm -f $f"
	fi
done
echo root:1000000:65536 >>/etc/subuid
echo root:1000000:65536 >>/etc/subgid
say "added root:1000000:65536 to /etc/subuid and /etc/subgid"

sandbox ns host
s06=$(stage_bin stage06-user)
start box in_ns "$ns" "$s06" --net none sh -c 'cat /proc/self/uid_map; echo ready; exec sleep 300'
expect_line box ready
cat "$WORK/box.seen"
init=$(child_of "$box_pid")
sleeper=$(child_of "$init")
say "ls -ln /var/lib/cfs/containers/*/rootfs"
ls -ln /var/lib/cfs/containers/*/rootfs | head -n 6
say "ps -o user,args -p $sleeper   (the container's sleep)"
ps -o user,args -p "$sleeper"
check "the map is 0 1000000 65536" grep -qE '^ *0 +1000000 +65536$' "$WORK/box.seen"
check "the container's root copy belongs to 1000000" test "$(stat -c %u:%g /proc/"$init"/root/bin)" = 1000000:1000000
check "so does its sleep" test "$(ps -o uid= -p "$sleeper" | tr -d ' ')" = 1000000
stop box
say "and with the lines removed again, the default range"
for f in subuid subgid; do
	# As before the script: the saved copy, or no file at all.
	if [ -e "$WORK/$f.orig" ]; then cp -p "$WORK/$f.orig" /etc/$f; else rm -f /etc/$f; fi
done
out=$(in_ns "$ns" "$s06" --net none cat /proc/self/uid_map)
echo "$out"
check "back to 0 100000 65536" grep -qE '^ *0 +100000 +65536$' <<<"$out"
