#!/usr/bin/env bash
# Exercise 05-4: a docker-like FORWARD chain with policy drop, and the
# accepts the stage inserts into it.
. "$(dirname "$0")/../lib.sh"

world # host1 and wan, as in the chapter's sandbox
say "make host1 look like a docker host"
in_ns "$HOST1" nft 'add table ip filter; add chain ip filter FORWARD { type filter hook forward priority 0; policy drop; }'
defer "nsenter --net=/run/netns/$HOST1 nft delete table ip filter"

# A server in the world that answers every connection (-ll: keep listening).
start server in_ns "$WAN" busybox nc -ll -p 9000 -e sh -c 'echo "hello from the world"'
wait_listen "--net=/run/netns/$WAN" 9000

for variant in stage patched; do
	if [ $variant = stage ]; then
		say "the stage as it is"
		bin=$(stage_bin stage05-net)
	else
		say "skip-forward-accepts.patch: the stage inserts nothing into FORWARD"
		bin=$(answer_bin stage05-net "$HERE/skip-forward-accepts.patch")
	fi
	start_in box in_ns "$HOST1" "$bin" sh -c 'echo ready; read go; nc -w 3 198.51.100.2 9000; echo "nc: $?"'
	expect_line box ready
	say "nft list chain ip filter FORWARD, while the container runs"
	chain=$(in_ns "$HOST1" nft list chain ip filter FORWARD)
	echo "$chain"
	send box go
	finish box
	out=$(cat "$WORK/box.seen"; rest box)
	echo "$out"
	if [ $variant = stage ]; then
		check "the stage put accepts for cfs0 first in the chain" \
			grep -qE 'oifname "cfs0" .*accept' <<<"$chain"
		check "the container reached the world" contains "$out" "hello from the world"
	else
		check "no accept for cfs0 in the chain" test -z "$(grep cfs0 <<<"$chain")"
		check "the container's connection timed out in the forward hook" \
			test -z "$(grep 'hello from the world' <<<"$out")"
		check "nc failed" test -n "$(grep -E '^nc: [1-9]' <<<"$out")"
	fi
	unset box_pid
done
say "delete the table when done: nft delete table ip filter"
