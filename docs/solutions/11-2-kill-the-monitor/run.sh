#!/usr/bin/env bash
# Exercise 11-2: kill -9 of a container's monitor, its parent: the init
# runs on without it, until the next command that reads the record repairs
# it (cgroup v1 or v2). --network none: nothing of the host's network.
. "$(dirname "$0")/../lib.sh"
no_copy_to_grade

CFS=$(build "$ROOT/final" cfs)
cfs() { "$CFS" "$@"; }
name=cfs-sol-$$
defer 'cfs rm -f "$name"'

say "cfs run -d --name $name --network none cfs/base sleep 1000"
cfs run -d --name "$name" --network none cfs/base sleep 1000 >/dev/null
pid=$(cfs inspect -f '{{.State.Pid}}' "$name")
id=$(cfs inspect -f '{{.Id}}' "$name")
mon=$(ps -o ppid= -p "$pid" | tr -d ' ')
ps -o pid,ppid,args -p "$mon,$pid"
check "the init's parent is its monitor" test "$(ps -o args= -p "$mon" | cut -d' ' -f1)" = cfs-monitor
pids=$(cgroup_dir "$pid" pids)

say "kill -9 $mon (the monitor)"
kill -9 "$mon"
waitgone "$mon"
check "the init runs on without its parent" kill -0 "$pid"
ps -o pid,ppid,args -p "$pid"
check "the record still says running: nothing has read it since" \
	grep -q '"status": *"running"' /var/lib/cfs/engine/containers/"$id"/container.json

say "cfs cleanup --dry-run: what it would repair, removing nothing"
# (It lists what other killed runs left on this host too: only this
# container's lines are shown.)
cfs cleanup --dry-run >"$WORK/dry"
grep -F "${id:0:12}" "$WORK/dry" | sed "s/$id/ID/g; s/${id:0:12}/ID/g"
check "it names the container" grep -q "${id:0:12}" "$WORK/dry"
check "and removed nothing: the init still runs" kill -0 "$pid"

say "cfs ps -a: the first command that reads the record repairs it"
cfs ps -a --no-trunc | grep -E "^CONTAINER|$id" | tee "$WORK/ps"
check "ps says Exited (137)" grep -q "Exited (137)" "$WORK/ps"
waitgone "$pid"
check "and the init is gone: ps killed what was left" test ! -e /proc/"$pid"
check "its cgroup is gone" test ! -e "$pids"
check "inspect agrees: exited 137" test "$(cfs inspect -f '{{.State.Status}} {{.State.ExitCode}}' "$name")" = "exited 137"
cfs cleanup --dry-run >"$WORK/dry" || true
lacks() { ! grep -q "$1" "$2"; }
check "cfs cleanup --dry-run has nothing more to say of it" lacks "${id:0:12}" "$WORK/dry"

say "cfs rm: no -f needed, it is exited"
cfs rm "$name"
check "its record is gone" test ! -e /var/lib/cfs/engine/containers/"$id"
