#!/usr/bin/env bash
# Exercise 01-1: a --domainname flag; the NIS domain name is the UTS
# namespace's second name. See README.md.
. "$(dirname "$0")/../lib.sh"

host_before=$(cat /proc/sys/kernel/domainname)
s01=$(answer_bin stage01-uts "$HERE/domainname.patch")

say "inside: --domainname example.test"
inside=$("$s01" --hostname box --domainname example.test sh -c 'cat /proc/sys/kernel/domainname; domainname 2>/dev/null || true')
echo "$inside"
check "the container's domainname is example.test" test "$(head -n 1 <<<"$inside")" = example.test

say "outside"
host_after=$(cat /proc/sys/kernel/domainname)
echo "$host_after"
check "the host's domainname is unchanged ($host_before)" test "$host_after" = "$host_before"

say "without the flag the container starts with a copy of the host's"
check "a copy of the host's value" test "$("$s01" cat /proc/sys/kernel/domainname)" = "$host_before"
