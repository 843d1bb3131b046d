# bench/lib.sh: what the benchmarks share. Source it first,
#
#	. "$(dirname "$0")/lib.sh"
#
# and it sets the shell's options, goes to the top of the repository, and
# ends the run unless it is root's. The functions below need work (the
# bench's temporary directory) and ns (its network namespace) set.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin:/usr/sbin:/sbin"
[ "$(id -u)" = 0 ] || { echo "bench: needs root (sudo env \"PATH=\$PATH\" $0)" >&2; exit 1; }

# make_sandbox: the network namespace $ns, lo up, in which the bench runs
# (in_ns CMD...), so that bridges, rules and daemons never touch the
# host's network.
make_sandbox() {
	ip netns add "$ns"
	ip netns exec "$ns" ip link set lo up
}
in_ns() { nsenter --net="/run/netns/$ns" "$@"; } # not ip netns exec: its new /sys has no cgroups

# remove_sandbox: the namespace, what daemons left mounted under $work,
# and $work.
remove_sandbox() {
	ip netns del "$ns" 2>/dev/null
	grep " $work" /proc/self/mountinfo | awk '{print $5}' | sort -r | xargs -r -n1 umount -l 2>/dev/null
	rm -rf "$work"
}

# wait_socket PATH: waits, 10 s at most, for a server to make its socket.
wait_socket() {
	local i
	for i in $(seq 100); do [ -S "$1" ] && return 0; sleep 0.1; done
}

# make_in_ns_cfs: $work/in_ns_cfs runs $work/cfs in the namespace, on the
# bench's image store ($CFS_IMAGE_STORE).
make_in_ns_cfs() {
	cat >"$work/in_ns_cfs" <<EOT
#!/bin/sh
exec nsenter --net=/run/netns/$ns env CFS_IMAGE_STORE=$CFS_IMAGE_STORE $work/cfs "\$@"
EOT
	chmod +x "$work/in_ns_cfs"
}

# start_dockerd: dockerd of its own, in the namespace, with its state in
# $work and its socket $work/docker.sock, and cfs/base loaded into it
# (from $work/base.tar). nsenter execs dockerd in place: $! is dockerd,
# kept in dockerd_pid for stop_dockerd.
start_dockerd() {
	"$work/cfs" save -o "$work/base.tar" cfs/base
	nsenter --net="/run/netns/$ns" dockerd --data-root "$work/docker" --exec-root "$work/docker-run" --pidfile "$work/dockerd.pid" \
		-H "unix://$work/docker.sock" --iptables=true >"$work/dockerd.log" 2>&1 &
	dockerd_pid=$!
	wait_socket "$work/docker.sock"
	docker -H "unix://$work/docker.sock" load -q -i "$work/base.tar" >/dev/null
}

# stop_dockerd: removes dockerd's containers and stops it, if it started.
stop_dockerd() {
	[ -n "${dockerd_pid:-}" ] || return 0
	DOCKER_HOST=unix://$work/docker.sock docker rm -f $(DOCKER_HOST=unix://$work/docker.sock docker ps -aq) >/dev/null 2>&1
	kill "$dockerd_pid"
	wait "$dockerd_pid" 2>/dev/null
}
