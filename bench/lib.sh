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

# sweep: what a bench killed with SIGKILL left, which its EXIT trap could
# not remove: a network namespace cfs-bench-*PID (the daemons and monitors
# still in it first) and a directory /var/tmp/cfs-bench-*PID.* or
# /tmp/cfs-bench-*PID.* (the servers started on its files first), each
# named after its bench's PID, taken away once that PID has gone. As a
# later stage run repairs what a killed one left, the next bench repairs
# this.
sweep() {
	local path name pid
	for path in /run/netns/cfs-bench-* /var/tmp/cfs-bench-* /tmp/cfs-bench-*; do
		[ -e "$path" ] || continue
		name=${path##*/}
		pid=${name%%.*}
		pid=${pid##*-}
		case $pid in "" | *[!0-9]*) continue ;; esac
		[ -d "/proc/$pid" ] && continue # its bench runs (or the PID is another's now: left alone)
		echo "bench: removing $path, left by a bench (PID $pid) that was killed" >&2
		if [ "$path" = "/run/netns/$name" ]; then
			ip netns pids "$name" | xargs -r kill -9
			ip netns del "$name"
		else
			pkill -9 -f -- "^docker-registry serve $path/" || true # bench/images.sh's
			remove_dir "$path"
		fi
	done
}

# no_containers: ends the run when cfs containers exist on this host. The
# bench shares the engine's state (/var/lib/cfs/engine, /run/cfs) with
# them, measures an empty host (its first container makes cfs0) and
# removes every container when it ends.
no_containers() {
	[ -z "$("$work/cfs" ps -aq)" ] && return 0
	echo "bench: this host has cfs containers ($work/cfs ps -a lists them): the bench measures an empty host and removes every container at its end; remove them first (sudo cfs rm -f \$(sudo cfs ps -aq))" >&2
	exit 1
}

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
	remove_dir "$work"
}

# remove_dir DIR: DIR, and first what is mounted under it (dockerd's and
# podman's mounts).
remove_dir() {
	awk -v dir="$1" '$5 == dir || index($5, dir "/") == 1 {print $5}' /proc/self/mountinfo | sort -r | xargs -r -n1 umount -l 2>/dev/null
	rm -rf "$1"
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
