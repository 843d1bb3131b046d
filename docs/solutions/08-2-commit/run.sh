#!/usr/bin/env bash
# Exercise 08-2: commit a kept writable layer as a layer tar, and run it on
# top of the same image.
. "$(dirname "$0")/../lib.sh"

layers=/var/lib/cfs/layers
# --layer TAR imports the tar once into $layers (a cache that stays), and
# makes a copy per ID range: what this script adds there is removed on exit.
find $layers -mindepth 1 -maxdepth 2 | sort >"$WORK/layers.before"
defer 'find '$layers' -mindepth 1 -maxdepth 2 | sort | comm -13 "$WORK/layers.before" - | xargs -r rm -rf'

sandbox ns host
s08=$(answer_bin stage08-layers "$HERE/commit.patch")
say "a container that changes a file, deletes one, and replaces a directory whole; --keep"
in_ns "$ns" "$s08" --net none --keep sh -c 'echo changed > /etc/motd; rm /etc/passwd; rm -rf /var; mkdir /var' 2>"$WORK/err"
cat "$WORK/err"
upper=$(sed -n 's/.*kept the container.s writable layer: //p' "$WORK/err")
[ -d "$upper" ] || fail "no kept upper directory in the stage's output"
defer "rm -rf $(dirname "$upper")"
ls -ln "$upper" "$upper/etc"

say "$s08 commit $upper OUT.tar"
"$s08" commit "$upper" "$WORK/out.tar"
tar -tvf "$WORK/out.tar" --numeric-owner
listing=$(tar -tvf "$WORK/out.tar" --numeric-owner)
check "the deleted /etc/passwd is a whiteout .wh.passwd" grep -q ' etc/\.wh\.passwd$' <<<"$listing"
check "the replaced /var is opaque: var/.wh..wh..opq" grep -q ' var/\.wh\.\.wh\.\.opq$' <<<"$listing"
check "owners are the container's (0), not the host's (100000)" test -z "$(awk '{print $2}' <<<"$listing" | grep -v '^0/0$')"
# An xattr would be a PAX record "SCHILY.xattr.user.overlay.…" in the tar.
check "no xattrs in the tar (no PAX records at all)" test -z "$(grep -a -o 'SCHILY\.xattr\.[a-z.]*' "$WORK/out.tar")"

say "run it on top of the same image"
out=$(in_ns "$ns" "$s08" --net none --layer /var/lib/cfs/rootfs --layer /var/lib/cfs/images/default/layer1 --layer "$WORK/out.tar" \
	sh -c 'cat /etc/motd; ls /etc/passwd 2>&1; echo "var: [$(ls -A /var)]"')
echo "$out"
check "/etc/motd says changed" grep -qx changed <<<"$out"
check "/etc/passwd is gone" grep -q 'No such file' <<<"$out"
check "/var is empty" grep -qx 'var: \[\]' <<<"$out"
say "and the image without it, for comparison"
out=$(in_ns "$ns" "$s08" --net none sh -c 'cat /etc/motd; ls /etc/passwd; echo "var: [$(ls -A /var)]"')
echo "$out"
check "the image itself is unchanged" grep -qx 'var: \[tmp\]' <<<"$out"
