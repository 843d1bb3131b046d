#!/usr/bin/env bash
# The engine against runc, docker and podman: `cfs run --rm IMG true`
# side by side with `runc run` (no network), `docker run --rm` and
# `podman run --rm`, with --network none and with the bridge; the start
# of the 100th container with 99 running against the 1st; and the memory
# (Pss) of a running container, its monitor included. See bench/README.md;
# results go in bench/RESULTS.md.
#
#   sudo env "PATH=$PATH" bench/engine.sh [RUNS]     (default 50)
#
# Everything runs in a network namespace of its own (cfs-bench), so that
# the bridges, rules and daemons never touch the host's network; dockerd
# and podman keep their state in a temporary directory, and dockerd is
# started here and stopped at the end. Needs root, Go, hyperfine and runc;
# installs Debian's docker.io and podman when they are missing
# (BENCH_PEERS=0 skips docker and podman).
#
# BASELINE=REV (a git revision) runs that revision's cfs beside this one:
# its run --rm in the same hyperfine run, and its memory per container
# after this one's. cfs is built static (CGO_ENABLED=0), as runc's
# releases are.
. "$(dirname "$0")/lib.sh"
runs=${1:-50}
peers=${BENCH_PEERS:-1}
podman_ok=

need=(hyperfine runc)
if [ "$peers" = 1 ]; then
	command -v dockerd >/dev/null || need+=(docker.io)
	command -v podman >/dev/null || need+=(podman)
fi
missing=()
for p in "${need[@]}"; do
	command -v "${p%.io}" >/dev/null || command -v "$p" >/dev/null || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "bench: installing ${missing[*]}" >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

sweep
work=$(mktemp -d /var/tmp/cfs-bench-$$.XXXXXX)
ns=cfs-bench-$$
podman=
cni_was=$(ls -d /var/lib/cni 2>/dev/null || true)
dockerd_pid=
cleanup() {
	set +e
	stop_dockerd
	[ -x "$work/in_ns_cfs" ] && "$work/in_ns_cfs" rm -f $("$work/in_ns_cfs" ps -aq 2>/dev/null) >/dev/null 2>&1
	if [ -n "$podman" ]; then
		in_ns $podman rm -af >/dev/null 2>&1
		in_ns $podman system reset -f >/dev/null 2>&1
	fi
	# The CNI library keeps its cache in /var/lib/cni/results, whatever
	# the configuration says: removed if the bench made it.
	[ -n "$cni_was" ] || rm -rf /var/lib/cni
	remove_sandbox
}
trap cleanup EXIT
make_sandbox

CGO_ENABLED=0 go build -o "$work/cfs" ./final
no_containers
if [ -n "${BASELINE:-}" ]; then
	mkdir -p "$work/src" "$work/base"
	git -c safe.directory="$PWD" archive "$BASELINE" | tar -x -C "$work/src"
	(cd "$work/src" && CGO_ENABLED=0 go build -o "$work/base/cfs" ./final)
fi
export CFS_IMAGE_STORE=$work/images
"$work/cfs" images >/dev/null
"$work/cfs" run --rm --network none cfs/base true # builds cfs/base in the bench's store

# runc's bundle: the same root filesystem as cfs/base, the program true.
mkdir -p "$work/bundle"
cp -a /var/lib/cfs/rootfs "$work/bundle/rootfs"
(cd "$work/bundle" && "$work/cfs" runtime spec)
sed -i -e 's/"terminal": true/"terminal": false/' -e 's/^\(\t*\)"sh"$/\1"true"/' "$work/bundle/config.json"

make_in_ns_cfs
sed "s|$work/cfs|$work/base/cfs|" "$work/in_ns_cfs" >"$work/in_ns_base"
chmod +x "$work/in_ns_base"
# With no network cfs needs no sandbox, and runs as runc does, with no
# nsenter and env in front of it (two more programs started per run).
cmds=(-n "cfs run --network none" "$work/cfs run --rm --network none cfs/base true"
	-n "runc run" "runc --root $work/runc run --bundle $work/bundle cfs-bench-runc"
	-n "cfs run (bridge)" "$work/in_ns_cfs run --rm cfs/base true")
if [ -n "${BASELINE:-}" ]; then
	cmds+=(-n "cfs run --network none ($BASELINE)" "$work/base/cfs run --rm --network none cfs/base true"
		-n "cfs run (bridge) ($BASELINE)" "$work/in_ns_base run --rm cfs/base true")
fi

if [ "$peers" = 1 ]; then
	start_dockerd
	export DOCKER_HOST=unix://$work/docker.sock
	cmds+=(-n "docker run --network none" "docker run --rm --network none cfs/base true"
		-n "docker run (bridge)" "docker run --rm cfs/base true")
	# podman keeps everything in $work: its storage, its run state
	# (--tmpdir, not /run/libpod) and its network's configuration (Debian's
	# /etc/cni/net.d/87-podman-bridge.conflist), whose addresses are leased
	# in $work too (the host-local plugin's dataDir, not
	# /var/lib/cni/networks).
	mkdir -p "$work/cni"
	cat >"$work/cni/87-podman-bridge.conflist" <<EOF
{"cniVersion": "0.4.0", "name": "podman", "plugins": [
	{"type": "bridge", "bridge": "cni-podman0", "isGateway": true, "ipMasq": true, "hairpinMode": true,
	 "ipam": {"type": "host-local", "dataDir": "$work/cni-data", "routes": [{"dst": "0.0.0.0/0"}],
		  "ranges": [[{"subnet": "10.88.0.0/16", "gateway": "10.88.0.1"}]]}},
	{"type": "portmap", "capabilities": {"portMappings": true}},
	{"type": "firewall"}, {"type": "tuning"}]}
EOF
	podman="podman --root $work/podman --runroot $work/podman-run --tmpdir $work/podman-tmp --network-config-dir $work/cni"
	in_ns $podman load -q -i "$work/base.tar" >/dev/null
	# podman raises a container's RLIMIT_NOFILE and RLIMIT_NPROC above the
	# host's, which needs CAP_SYS_RESOURCE, which root lacks in some CI
	# containers and VMs (this one's: CapBnd without bit 24); there it is
	# given lower ones, which setrlimit(2) always allows. A podman that
	# cannot run at all is left out, and says why.
	ulimits=
	if ! in_ns $podman run --rm --network none cfs/base true >/dev/null 2>&1; then
		ulimits="--ulimit nofile=1024:1024 --ulimit nproc=1024:1024"
		echo "bench: podman cannot raise the container's rlimits here (no CAP_SYS_RESOURCE): it runs with $ulimits" >&2
	fi
	cat >"$work/in_ns_podman" <<EOF
#!/bin/sh
exec nsenter --net=/run/netns/$ns $podman "\$@"
EOF
	chmod +x "$work/in_ns_podman"
	if out=$("$work/in_ns_podman" run --rm $ulimits --network none cfs/base true 2>&1); then
		cmds+=(-n "podman run --network none" "$work/in_ns_podman run --rm $ulimits --network none cfs/base true"
			-n "podman run (bridge)" "$work/in_ns_podman run --rm $ulimits cfs/base true")
		podman_ok=1
	else
		echo "bench: podman cannot run a container on this host, left out: $out" >&2
	fi
fi

echo "== run --rm IMG true"
hyperfine -N --warmup 5 --runs "$runs" --export-markdown "$work/run.md" "${cmds[@]}"
cat "$work/run.md"

# On the bridge each cfs run above is the first container of an empty
# host: it makes cfs0 and the table, and as the last one out takes them
# away again. docker made docker0 when dockerd started and keeps it; the
# same state for cfs is its bridge up, held by a container running.
echo
echo "== run --rm IMG true on the bridge, cfs0 up (one container running), against docker's"
"$work/in_ns_cfs" run -d --name cfs-bench-hold cfs/base sleep 100000 >/dev/null
held=(-n "cfs run (bridge, cfs0 up)" "$work/in_ns_cfs run --rm cfs/base true")
[ -n "${BASELINE:-}" ] && held+=(-n "cfs run (bridge, cfs0 up) ($BASELINE)" "$work/in_ns_base run --rm cfs/base true")
[ "$peers" = 1 ] && held+=(-n "docker run (bridge)" "docker run --rm cfs/base true")
[ -n "$podman_ok" ] && held+=(-n "podman run (bridge)" "$work/in_ns_podman run --rm $ulimits cfs/base true")
hyperfine -N --warmup 5 --runs "$runs" --export-markdown "$work/held.md" "${held[@]}"
cat "$work/held.md"
"$work/in_ns_cfs" rm -f cfs-bench-hold >/dev/null

echo
echo "== the 1st container against the 100th (cfs run -d, 99 running)"
start_ms() { # the time of one cfs run -d, in ms
	local t0 t1
	t0=$(date +%s%N)
	"$work/in_ns_cfs" run -d --name "$1" cfs/base sleep 100000 >/dev/null
	t1=$(date +%s%N)
	echo $(((t1 - t0) / 1000000))
}
first=()
for i in $(seq 10); do first+=("$(start_ms first$i)"); "$work/in_ns_cfs" rm -f first$i >/dev/null; done
for i in $(seq 99); do "$work/in_ns_cfs" run -d --name bg$i cfs/base sleep 100000 >/dev/null; done
# A monitor slims a second after its container starts (it executes itself
# again, final/engine/slim_linux.go): wait for the last ones, whose work
# would otherwise fall into the first measured starts.
for pid in $(pgrep -f '^cfs-monitor'); do
	while [ -e "/proc/$pid" ] && ! tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null | grep -q '^_CFS_MONITOR_SLIM='; do sleep 0.1; done
done
hundredth=()
for i in $(seq 10); do hundredth+=("$(start_ms c100_$i)"); "$work/in_ns_cfs" rm -f c100_$i >/dev/null; done
avg() { local s=0; for v in "$@"; do s=$((s + v)); done; echo $((s / $#)); }
echo "1st: $(avg "${first[@]}") ms (of ${first[*]}); 100th: $(avg "${hundredth[@]}") ms (of ${hundredth[*]})"

echo
pss() { # CFS: the Pss per running container of the containers running now
	local total=0 n=0 id rec mon pids kb v pid
	for id in $("$1" ps -q --no-trunc); do
		rec=/var/lib/cfs/engine/containers/$id/container.json
		mon=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["state"]["monitor"]["pid"])' "$rec")
		pids="$mon $(cat /sys/fs/cgroup/pids/cfs-runtime/$id/cgroup.procs 2>/dev/null || cat /sys/fs/cgroup/cfs-runtime/$id/cgroup.procs)"
		kb=0
		for pid in $pids; do
			v=$(awk '/^Pss:/ {print $2}' /proc/$pid/smaps_rollup 2>/dev/null || echo 0)
			kb=$((kb + v))
		done
		total=$((total + kb))
		n=$((n + 1))
	done
	echo "containers: $n; Pss per container, monitor included: $((total / n)) KiB"
	mon=$(pgrep -f -o '^cfs-monitor' || true)
	[ -n "$mon" ] && echo "one monitor: $(grep -E '^(Rss|Pss|Private_Dirty|Pss_Anon):' /proc/$mon/smaps_rollup | tr -s ' ' | tr '\n' ' ')"
	return 0
}
echo "== memory per running container (Pss, /proc/PID/smaps_rollup), monitor included, with 99 running"
pss "$work/in_ns_cfs"
if [ -n "${BASELINE:-}" ]; then
	echo
	echo "== the same, $BASELINE's cfs"
	"$work/in_ns_cfs" rm -f $("$work/in_ns_cfs" ps -aq) >/dev/null
	for i in $(seq 99); do "$work/in_ns_base" run -d --name base$i cfs/base sleep 100000 >/dev/null; done
	pss "$work/in_ns_base"
fi

echo
echo "machine: $(uname -sr), $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(stat -f -c %T /sys/fs/cgroup | sed 's/tmpfs/cgroup v1 (hybrid)/; s/cgroup2fs/cgroup v2/')"
echo "runc: $(runc --version | head -n 1); hyperfine: $(hyperfine --version)"
if [ "$peers" = 1 ]; then echo "docker: $(dockerd --version); podman: $(podman --version)"; fi
