#!/usr/bin/env bash
# Exercise 06-3: a range of its own in /etc/subuid and /etc/subgid.
. "$(dirname "$0")/../lib.sh"
no_copy_to_grade # what this script shows is the answer

# The files are restored exactly (content, mode, times) on exit; they
# must not already name a range for root, or the line below would not be
# the first one the stage reads.
# restore FILE: puts FILE back as it was, or removes it if there was none
# (a VM or container image may have no /etc/subuid at all).
restore() {
	if [ -e "$WORK/$(basename "$1").orig" ]; then cp -p "$WORK/$(basename "$1").orig" "$1"; else rm -f "$1"; fi
}
for f in /etc/subuid /etc/subgid; do
	if [ -e $f ]; then
		grep -q '^root:' $f && fail "$f already has a range for root; this script would not be the one deciding"
		cp -p $f "$WORK/$(basename $f).orig"
	fi
	defer "restore $f"
done
# The stage keeps its copy of the root filesystem for the new range in
# /var/lib/cfs/layers/idmapped-1000000: a cache, which goes with the lines.
[ -e /var/lib/cfs/layers/idmapped-1000000 ] || defer "rm -rf /var/lib/cfs/layers/idmapped-1000000"
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
say "ls -ln /var/lib/cfs/layers/idmapped-1000000/*"
ls -ln /var/lib/cfs/layers/idmapped-1000000/* | head -n 6
say "ps -o user,args -p $sleeper   (the container's sleep)"
ps -o user,args -p "$sleeper"
check "the map is 0 1000000 65536" grep -qE '^ *0 +1000000 +65536$' "$WORK/box.seen"
check "the container's root copy belongs to 1000000" test "$(stat -c %u:%g /proc/"$init"/root/bin)" = 1000000:1000000
check "so does its sleep" test "$(ps -o uid= -p "$sleeper" | tr -d ' ')" = 1000000
stop box
say "and with the lines removed again, the default range"
restore /etc/subuid
restore /etc/subgid
out=$(in_ns "$ns" "$s06" --net none cat /proc/self/uid_map)
echo "$out"
check "back to 0 100000 65536" grep -qE '^ *0 +100000 +65536$' <<<"$out"
