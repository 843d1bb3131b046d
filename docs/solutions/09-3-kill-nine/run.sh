#!/usr/bin/env bash
# Exercise 09-3: the exec fifo, the pid file, and kill -9 of the init:
# what state says, and what delete removes (cgroup v1 or v2).
. "$(dirname "$0")/../lib.sh"

no_copy_to_grade
runtime_bundle
sed -i -e 's/"terminal": true/"terminal": false/' -e '/"args": \[/,/\]/s/"sh"/"sleep", "1000"/' "$BUNDLE/config.json"
state=/run/cfs/runtime/$ID

say "create --pid-file"
runtime_create
check "the pid file holds digits only (containerd's shim reads it with Atoi)" grep -qxE '[0-9]+' "$WORK/pid"
check "and no newline" test "$(wc -l <"$WORK/pid")" = 0
check "it is the init's PID, as state says" contains "$("$CFS" runtime state "$ID")" "\"pid\": $pid,"
ls "$state"
check "created: the exec fifo waits in the state directory" test -p "$state/exec.fifo"
pids=$(cgroup_dir "$pid" pids)

say "start, twice"
"$CFS" runtime start "$ID"
check "the fifo is gone: that is what running means" test ! -e "$state/exec.fifo"
if "$CFS" runtime start "$ID" 2>"$WORK/err"; then fail "a second start worked"; fi
echo "ok: a second start fails, the fifo was one way: $(cat "$WORK/err")"

say "kill -9 of the init, from outside the runtime"
kill -9 "$pid"
waitgone "$pid"
"$CFS" runtime state "$ID"
check "state says stopped: it asks the kernel, not a file" state_is stopped
check "nothing has deleted the state directory yet" test -e "$state/state.json"
check "nor the cgroup" test -d "$pids"

say "delete: no --force needed for a stopped container"
"$CFS" runtime delete "$ID"
check "the state directory is gone" test ! -e "$state"
check "the cgroup is gone" test ! -e "$pids"
if "$CFS" runtime state "$ID" 2>"$WORK/err"; then fail "state still knows $ID"; fi
echo "ok: and the runtime knows it no more: $(cat "$WORK/err")"
