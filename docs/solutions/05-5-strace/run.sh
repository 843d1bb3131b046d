#!/usr/bin/env bash
# Exercise 05-5: what one container costs in network system calls.
# Needs strace (apt-get install strace).
. "$(dirname "$0")/../lib.sh"
no_copy_to_grade # what this script shows is the answer
command -v strace >/dev/null || fail "strace is not installed (apt-get install strace)"

sandbox ns host
s05=$(stage_bin stage05-net)
say "strace -f -c -e trace=network s05 true"
in_ns "$ns" strace -f -c -e trace=network -o "$WORK/summary" "$s05" true
cat "$WORK/summary"
calls() { awk -v s="$1" '$NF == s {print $(NF-1) ~ /^[0-9]+$/ ? $(NF-1) : $(NF-2)}' "$WORK/summary"; }
check "netlink sockets: socket() calls" test "$(calls socket)" -ge 3
check "requests go out by sendto (rtnetlink) and sendmsg (the nftables batch)" \
	test "$(calls sendto)" -ge 10 -a "$(calls sendmsg)" -ge 1

say "each sendmsg and sendto with its time (strace -f -T), and the flock wait"
in_ns "$ns" strace -f -T -e trace=sendto,sendmsg,flock -e signal=none -o "$WORK/calls" "$s05" true
n_sendto=$(grep -c ' sendto(' "$WORK/calls" || true)
n_sendmsg=$(grep -c ' sendmsg(' "$WORK/calls" || true)
nft_batches=$(grep ' sendmsg(' "$WORK/calls" | grep -c 'NFNL_MSG_BATCH_BEGIN\|nlmsg_type=0x10 /\* NLMSG_MIN_TYPE \*/\|nlmsg_type=NFNL_MSG_BATCH_BEGIN' || true)
echo "sendto: $n_sendto, sendmsg: $n_sendmsg (of which nftables batches: $nft_batches)"
say "the three slowest calls (seconds, call, netlink message)"
awk '{t = $NF; gsub(/[<>]/, "", t); n = $2; sub(/\(.*/, "", n); m = ""; if (match($0, /nlmsg_type=[A-Za-z_0-9]+/)) m = substr($0, RSTART + 11, RLENGTH - 11); print t, n, m}' "$WORK/calls" | sort -g | tail -n 3
grep -E ' flock\(' "$WORK/calls" | sed -E 's/^[0-9]+ +//'
check "the nftables ruleset goes in whole, as batches of one sendmsg each" test "$n_sendmsg" -ge 1
check "flock is taken around the network set-up" grep -q 'flock(.*LOCK_EX' "$WORK/calls"
