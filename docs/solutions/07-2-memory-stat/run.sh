#!/usr/bin/env bash
# Exercise 07-2: tmpfs pages are charged to the cgroup as page cache that
# cannot be reclaimed; over the limit, the OOM killer cannot free them.
. "$(dirname "$0")/../lib.sh"
no_copy_to_grade # what this script shows is the answer

sandbox ns host
s07=$(stage_bin stage07-cgroups)
if [ "$(stat -f -c %T /sys/fs/cgroup)" = cgroup2fs ]; then
	stat_file=/sys/fs/cgroup/memory.stat keys='^(anon|file|shmem) '
else
	stat_file=/sys/fs/cgroup/memory/memory.stat keys='^(cache|rss|shmem) '
fi
say "--memory 32m: memory.stat before and after a 20 MB file in /dev/shm"
out=$(in_ns "$ns" "$s07" --net none --memory 32m sh -c "grep -E '$keys' $stat_file; echo --; head -c 20000000 /dev/zero > /dev/shm/f; grep -E '$keys' $stat_file")
echo "$out"
get() { sed -n "${1}p" <<<"$(sed -n "$2"' { / /p }' <<<"$out")" ; }
val() { awk -v part="$1" -v key="$2" '$0 == "--" {p++; next} p == part && $1 == key {print $2}' <<<"$out"; }
shm_key=shmem
[ "${keys#*cache}" != "$keys" ] && file_key=cache || file_key=file
grew() { echo $(($(val 1 "$1") - $(val 0 "$1"))); }
echo "grew: $file_key $(grew $file_key), shmem $(grew shmem)"
check "the file shows up as $file_key (page cache): about 20 MB" test "$(grew $file_key)" -ge 19000000
check "and as shmem: the same pages" test "$(grew shmem)" -ge 19000000

say "a second 20 MB file in the same container"
set +e
out=$(in_ns "$ns" "$s07" --net none --memory 32m sh -c "head -c 20000000 /dev/zero > /dev/shm/f; echo first; head -c 20000000 /dev/zero > /dev/shm/g; echo second")
status=$?
set -e
echo "$out"
echo "status $status"
check "the first file fits" grep -qx first <<<"$out"
check "the second does not: the OOM killer killed the shell (137 = 128+SIGKILL)" test "$status" = 137
check "so it never printed second" test -z "$(grep -x second <<<"$out")"

say "killing does not free tmpfs pages: the writer dies, its files stay charged"
# The writer asks to be the OOM killer's first choice (oom_score_adj 1000,
# allowed to anyone). The container is then at its limit with nothing to
# reclaim, and anything that allocates in it may be the next victim: so
# the shell that stays only waits (builtins), and the host looks.
start_in box in_ns "$ns" "$s07" --net none --memory 32m sh -c "sh -c 'echo 1000 > /proc/self/oom_score_adj; head -c 20000000 /dev/zero > /dev/shm/f; head -c 20000000 /dev/zero > /dev/shm/g'; echo writer status \$?; read x"
expect_line box "writer status 137"
check "the writer was killed" true
init=$(child_of "$box_pid")
if [ "$stat_file" = /sys/fs/cgroup/memory.stat ]; then
	cg=/sys/fs/cgroup$(awk -F: '$1 == 0 {print $3}' /proc/"$init"/cgroup)
else
	cg=/sys/fs/cgroup/memory$(awk -F: '$2 ~ /(^|,)memory(,|$)/ {print $3}' /proc/"$init"/cgroup)
fi
ls -l /proc/"$init"/root/dev/shm
grep -E "$keys" "$cg/memory.stat"
shm() { awk '$1 == "shmem" {print $2}' "$cg/memory.stat"; }
with_files=$(shm)
check "its files stay in the tmpfs" test -e /proc/"$init"/root/dev/shm/f -a -e /proc/"$init"/root/dev/shm/g
# What the two files hold, less 1 MiB: memory.stat may lag the last pages
# charged by a few hundred KiB (the kernel flushes its per-CPU counts in
# batches). How much of g was written depends on what else the group holds.
held=$(($(stat -c %s /proc/"$init"/root/dev/shm/f) + $(stat -c %s /proc/"$init"/root/dev/shm/g)))
echo "shmem $with_files, the files $held bytes"
check "still charged to the cgroup after the kill: all that both files hold" test "$with_files" -ge $((held - 1048576))
check "which is the 20 MB of f and more" test "$with_files" -ge 20000000
say "rm, from outside: rm /proc/$init/root/dev/shm/{f,g}"
rm /proc/"$init"/root/dev/shm/f /proc/"$init"/root/dev/shm/g
grep -E "$keys" "$cg/memory.stat"
check "freed only when deleted" test "$(shm)" -lt 1000000
send box go
finish box
echo "stage status $status"
check "the container then ends normally" test "$status" = 0
