#!/usr/bin/env bash
# The API's cost: `docker run --rm IMG true`, the docker CLI against
# `cfs serve`, side by side with `cfs run --rm IMG true` (the same engine
# without HTTP) and, with BENCH_PEERS=1, with the docker CLI against
# dockerd (Debian's docker.io). See bench/README.md; results go in
# bench/RESULTS.md.
#
#   sudo env "PATH=$PATH" bench/api.sh [RUNS]     (default 50)
#
# Everything runs in a network namespace of its own (cfs-bench-api), so
# that the bridge, rules and daemons never touch the host's network; the
# images, the sockets and dockerd's state live in a temporary directory.
# dockerd is started only with BENCH_PEERS=1, in that namespace with its
# own --data-root, --exec-root and socket, and stopped at the end, as
# bench/engine.sh does; it is off by default because it is a second
# daemon on the machine. Needs root, Go, hyperfine and the docker CLI.
. "$(dirname "$0")/lib.sh"
runs=${1:-50}
peers=${BENCH_PEERS:-0}

for p in hyperfine docker; do
	command -v "$p" >/dev/null || { echo "bench: needs $p (apt-get install hyperfine docker.io; never start its dockerd)" >&2; exit 1; }
done
[ "$peers" = 0 ] || command -v dockerd >/dev/null || { echo "bench: BENCH_PEERS=1 needs dockerd (apt-get install docker.io)" >&2; exit 1; }

sweep
work=$(mktemp -d /var/tmp/cfs-bench-api-$$.XXXXXX)
ns=cfs-bench-api-$$
serve_pid=
dockerd_pid=
cleanup() {
	set +e
	if [ -n "$serve_pid" ]; then
		kill "$serve_pid"
		wait "$serve_pid" 2>/dev/null
	fi
	stop_dockerd
	remove_sandbox
}
trap cleanup EXIT
make_sandbox

go build -o "$work/cfs" ./final
no_containers
export CFS_IMAGE_STORE=$work/images
"$work/cfs" run --rm --network none cfs/base true # builds cfs/base in the bench's store

# The server, in the namespace; nsenter execs it in place: $! is cfs.
nsenter --net="/run/netns/$ns" "$work/cfs" serve --host "unix://$work/cfs.sock" >"$work/serve.log" 2>&1 &
serve_pid=$!
wait_socket "$work/cfs.sock"
make_in_ns_cfs
export DOCKER_CONFIG=$work/docker-config # the client reads no one's settings

cmds=(-n "docker → cfs serve, --network none" "docker -H unix://$work/cfs.sock run --rm --network none cfs/base true"
	-n "cfs run, --network none" "$work/in_ns_cfs run --rm --network none cfs/base true"
	-n "docker → cfs serve (bridge)" "docker -H unix://$work/cfs.sock run --rm cfs/base true"
	-n "cfs run (bridge)" "$work/in_ns_cfs run --rm cfs/base true")

if [ "$peers" = 1 ]; then
	start_dockerd
	cmds+=(-n "docker → dockerd, --network none" "docker -H unix://$work/docker.sock run --rm --network none cfs/base true"
		-n "docker → dockerd (bridge)" "docker -H unix://$work/docker.sock run --rm cfs/base true")
fi

echo "== run --rm IMG true"
hyperfine -N --warmup 5 --runs "$runs" --export-markdown "$work/run.md" "${cmds[@]}"
cat "$work/run.md"

echo
echo "== the server's memory after the runs (VmHWM, VmRSS of cfs serve)"
grep -E '^(VmHWM|VmRSS):' "/proc/$serve_pid/status" | tr -s ' \t' ' '

echo
echo "machine: $(uname -sr), $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "docker CLI: $(docker --version); hyperfine: $(hyperfine --version)"
if [ "$peers" = 1 ]; then echo "dockerd: $(dockerd --version)"; fi
