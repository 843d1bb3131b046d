#!/usr/bin/env bash
# Exercise 05-2: without its default route a container reaches only its own link.
. "$(dirname "$0")/../lib.sh"
no_copy_to_grade # what this script shows is the answer

world # host1 and wan, as in the chapter's sandbox
s05=$(stage_bin stage05-net)
start box in_ns "$HOST1" "$s05" sh -c 'echo ready; exec sleep 300'
expect_line box ready
pid=$(child_of "$box_pid")
start other in_ns "$HOST1" "$s05" sh -c 'echo ready; exec sleep 300'
expect_line other ready
inside() { nsenter -t "$pid" -n "$@"; }

say "routes inside"
inside ip route
check "the world answers first" inside busybox ping -c 1 -W 2 198.51.100.2 >/dev/null

say "nsenter -n -t $pid ip route del default"
inside ip route del default
inside ip route
out=$(inside ip route get 198.51.100.2 2>&1 || true)
echo "ip route get 198.51.100.2: $out"
check "the world is unreachable" contains "$out" "Network is unreachable"
check "ping says so at once" test -n "$(inside busybox ping -c 1 -W 2 198.51.100.2 2>&1 | grep -i 'unreachable')"
check "the gateway still answers: it is on the link" inside busybox ping -c 1 -W 2 172.29.0.1
check "so does the other container" inside busybox ping -c 1 -W 2 172.29.0.3
check "the host's other address is not on the link either" \
	test -n "$(inside ip route get 198.51.100.1 2>&1 | grep unreachable)"

say "put it back: ip route add default via 172.29.0.1"
inside ip route add default via 172.29.0.1
check "the world answers again" inside busybox ping -c 1 -W 2 198.51.100.2
