#!/usr/bin/env bash
# Exercise 10-2: a file deleted in a container, committed: a whiteout in
# the new layer's tar (.wh.NAME), a character device 0/0 in its directory
# on disk, and the file gone in a container of the new image.
. "$(dirname "$0")/../lib.sh"
no_copy_to_grade

image_names

say "a container of cfs/base deletes /etc/group, a file of the image's layer"
"$CFS" run --name "$NAME" --network none cfs/base rm /etc/group
"$CFS" commit "$NAME" "$IMG" >/dev/null

say "save, and the new layer's tar: the last of the layers docker's manifest.json lists"
"$CFS" save -o "$WORK/img.tar" "$IMG"
mkdir "$WORK/img"
tar -xf "$WORK/img.tar" -C "$WORK/img"
layer=$(sed 's/.*"Layers":\[\([^]]*\)\].*/\1/' "$WORK/img/manifest.json" | tr , '\n' | tr -d '"' | tail -n 1)
echo "$layer"
tar -tvf "$WORK/img/$layer" | tee "$WORK/layer.txt"
check "the layer tar has etc/.wh.group, an empty file" grep -qE '^-.* 0 .* etc/\.wh\.group$' "$WORK/layer.txt"
check "and no etc/group itself" test -z "$(awk '$NF == "etc/group"' "$WORK/layer.txt")"

say "on disk, unpacked for overlay: the whiteout is a character device 0/0"
diff=$("$CFS" image inspect --format '{{.GraphDriver.Data.LowerDir}}' "$IMG")
diff=${diff%%:*}
stat -c '%n: %F %t,%T' "$diff/etc/group"
check "layers/CHAIN/diff/etc/group is a character device 0/0" \
	test "$(stat -c '%F %t,%T' "$diff/etc/group")" = "character special file 0,0"
check "cfs/base's own layer still has /etc/group, a file" \
	test -f "$("$CFS" image inspect --format '{{.GraphDriver.Data.LowerDir}}' cfs/base)/etc/group"

say "a container of the new image: overlay hides the file"
"$CFS" rm "$NAME" >/dev/null
out=$("$CFS" run --rm --network none "$IMG" ls /etc)
echo "$out"
check "its /etc has no group" test -z "$(grep -x group <<<"$out")"
check "and the rest is there (passwd)" grep -qx passwd <<<"$out"
