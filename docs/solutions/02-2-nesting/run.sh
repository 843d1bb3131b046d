#!/usr/bin/env bash
# Exercise 02-2: the stage inside itself; NSpid has one PID per level.
. "$(dirname "$0")/../lib.sh"
no_copy_to_grade # what this script shows is the answer

s02=$(stage_bin stage02-pid)
# /proc is still the host's in stage 02, so /proc/$$ would name a host
# process: `exec grep` reads the shell's own status (exec keeps the PID).
say "$s02 $s02 sh -c 'echo \$\$; grep NSpid /proc/self/status; exec grep NSpid /proc/self/status'"
out=$("$s02" "$s02" sh -c 'echo $$; grep NSpid /proc/self/status; exec grep NSpid /proc/self/status')
echo "$out"
shell=$(sed -n 1p <<<"$out")
read -r -a grep_ids <<<"$(sed -n 2p <<<"$out" | cut -f2-)"
read -r -a sh_ids <<<"$(sed -n 3p <<<"$out" | cut -f2-)"
check "three numbers: host, outer container, inner container" test "${#grep_ids[@]}" = 3
check "the innermost PID of grep is not the shell's \$\$ ($shell)" test "${grep_ids[2]}" != "$shell"
check "the shell's own NSpid ends in \$\$" test "${sh_ids[2]}" = "$shell"
check "grep is a child of the shell: a later PID in every namespace" \
	test "${grep_ids[0]}" -gt "${sh_ids[0]}" -a "${grep_ids[1]}" -gt "${sh_ids[1]}" -a "${grep_ids[2]}" -gt "${sh_ids[2]}"
check "the shell is not PID 2: cfs-init's Go threads took PIDs in the namespace before it" test "$shell" -gt 2
