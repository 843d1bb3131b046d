#!/usr/bin/env bash
# Exercise 10-1: a layer on disk, found by its chain ID, and shared by two
# images: cfs/base and an image committed from a container of it.
. "$(dirname "$0")/../lib.sh"
no_copy_to_grade

image_names

say "a container of cfs/base writes one file; commit makes its upper directory a layer"
"$CFS" run --name "$NAME" --network none cfs/base sh -c 'echo hello >/root/note'
"$CFS" commit "$NAME" "$IMG" >/dev/null
"$CFS" history "$IMG"

say "the diff IDs (the config's rootfs.diff_ids): the digests of the layers' uncompressed tars"
base=$("$CFS" image inspect --format '{{json .RootFS.Layers}}' cfs/base)
mine=$("$CFS" image inspect --format '{{json .RootFS.Layers}}' "$IMG")
echo "cfs/base: $base"
echo "$IMG: $mine"
mapfile -t diffs <<<"$(grep -o 'sha256:[0-9a-f]*' <<<"$mine")"
check "the new image has two layers" test ${#diffs[@]} = 2
check "its bottom one is cfs/base's" test "$base" = "[\"${diffs[0]}\"]"

say "chain IDs, by hand: the bottom's is its diff ID; the next is sha256 of \"CHAIN DIFF\""
chain0=${diffs[0]#sha256:}
chain1=$(printf '%s %s' "sha256:$chain0" "${diffs[1]}" | sha256sum | cut -d' ' -f1)
echo "chain0 $chain0"
echo "chain1 $chain1"
check "layers/chain0 is on disk" test -d "$STORE/layers/$chain0/diff"
check "layers/chain1 is on disk" test -d "$STORE/layers/$chain1/diff"
check "layers/chain1 holds the file the container wrote, and nothing of the base's" \
	test "$(cd "$STORE/layers/$chain1/diff" && find . -type f)" = ./root/note
check "layers/chain1/layer.json names its diff ID" grep -q "${diffs[1]}" "$STORE/layers/$chain1/layer.json"

say "the lower dirs overlay gets: the new image's end with cfs/base's one directory"
lb=$("$CFS" image inspect --format '{{.GraphDriver.Data.LowerDir}}' cfs/base)
lm=$("$CFS" image inspect --format '{{.GraphDriver.Data.LowerDir}}' "$IMG")
echo "cfs/base: $lb"
echo "$IMG: $lm"
check "cfs/base's lower dir is layers/chain0" test "$lb" = "$STORE/layers/$chain0/diff"
check "the new image's are chain1, then the same chain0 (top first)" test "$lm" = "$STORE/layers/$chain1/diff:$lb"

say "rmi of the new image takes its own layer only: the shared one stays for cfs/base"
"$CFS" rm "$NAME" >/dev/null
"$CFS" rmi "$IMG" >/dev/null
check "layers/chain1 is gone" test ! -e "$STORE/layers/$chain1"
check "layers/chain0 stays" test -d "$STORE/layers/$chain0/diff"
