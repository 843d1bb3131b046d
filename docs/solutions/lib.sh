# docs/solutions/lib.sh: what every solution's run.sh shares. Source it first:
#
#	. "$(dirname "$0")/../lib.sh"
#
# A solution runs as root from anywhere (Go builds run as the user who ran
# sudo, see below), exits 0 when its answer is shown and non-zero otherwise, and leaves the host as it found it: everything it makes
# is registered with `defer` and undone on exit, in reverse order, also after
# a failure. Run one on its own with
#
#	sudo docs/solutions/01-2-setns/run.sh
#
# (or sudo env "PATH=$PATH" docs/solutions/01-2-setns/run.sh, which finds go
# on the PATH it passes along).
#
# Where the answer is a change to a stage, the script also grades your own
# attempt instead of the reference patch: copy the stage inside the
# repository (cp -r stage01-uts _my01), change the copy, and run
#
#	sudo STAGE=./_my01 docs/solutions/01-1-domainname/run.sh
#
# STAGE may name several copies, DIR:DIR (06-2 changes two stages); each is
# matched to its stage by its `const stage = "…"` line. PROGRAM=DIR does
# the same for 01-2, whose answer is a program of its own, and CONFIG=FILE
# for chapter 09's, whose answers are a bundle's config.json.
set -euo pipefail
export LC_ALL=C

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
[ "$(id -u)" = 0 ] || { echo "run as root: sudo $0" >&2; exit 1; }

# Go runs as the user who ran sudo (SUDO_UID), with their home, so that it
# uses their build cache and Go settings, and nothing in their checkout or
# cache becomes root's; only what needs root runs as root. sudo resets PATH,
# and Go's tarball puts go in /usr/local/go/bin, outside sudo's secure_path:
# go is looked for on PATH (sudo env "PATH=$PATH" and the docs test pass
# it), then where that user's login shell finds it, then in the tarball's
# place.
_as_user=()
if [ -n "${SUDO_UID:-}" ] && [ "$SUDO_UID" != 0 ]; then
	_home=$(getent passwd "$SUDO_UID" | cut -d: -f6)
	_as_user=(setpriv --reuid="$SUDO_UID" --regid="$SUDO_GID" --init-groups
		env -u XDG_CACHE_HOME -u XDG_CONFIG_HOME -u GOCACHE -u GOENV
		HOME="$_home" USER="$SUDO_USER" LOGNAME="$SUDO_USER")
fi
# as_user CMD...: runs CMD as the user who ran sudo (as root without one).
as_user() { "${_as_user[@]}" "$@"; }
GO=$(command -v go || true)
if [ -z "$GO" ] && [ -n "${SUDO_USER:-}" ]; then
	GO=$(su -l "$SUDO_USER" -c 'command -v go' 2>/dev/null </dev/null || true)
fi
[ -n "$GO" ] || GO=/usr/local/go/bin/go
[ -x "$GO" ] || { echo "no go found (not on root's PATH, not on ${SUDO_USER:-root}'s, not in /usr/local/go/bin): sudo env \"PATH=\$PATH\" $0" >&2; exit 1; }
go() { as_user "$GO" "$@"; }

# WORK holds copies of stages, binaries and fifos. It is inside the module,
# so a copied stage can import cfs/internal/...; its name starts with a dot,
# so ./... patterns (go vet, go build, go test) never see it.
WORK=$(mktemp -d "$ROOT/.cfs-sol-XXXXXX")
[ -z "${SUDO_UID:-}" ] || chown "$SUDO_UID:$SUDO_GID" "$WORK" # go writes there as that user
_deferred=()
defer() { _deferred+=("$*"); }
_on_exit() {
	local rc=$? i
	set +e
	for ((i = ${#_deferred[@]} - 1; i >= 0; i--)); do eval "${_deferred[i]}" >/dev/null 2>&1; done
	if [ $rc = 0 ] && [ -n "${STAGE:-}${PROGRAM:-}${CONFIG:-}" ] && [ ! -e "$WORK/.graded" ]; then
		echo "STAGE, PROGRAM or CONFIG is set, but this script checked no copy of yours" >&2
		rc=1
	fi
	rm -rf "$WORK"
	case $rc in
	0) echo "== PASS: $(basename "$HERE")" ;;
	"$SKIP") echo "== SKIP: $(basename "$HERE")" ;;
	*) echo "== FAIL: $(basename "$HERE") (status $rc)" >&2 ;;
	esac
	exit $rc
}
trap _on_exit EXIT
trap 'exit 130' INT TERM

say() { echo "-- $*"; }
# need TOOL PACKAGE: a solution that needs a program the distribution does
# not install by default ends here, with status SKIP (77, as automake's
# tests say "skipped"), when the host lacks it.
SKIP=77
need() {
	command -v "$1" >/dev/null && return 0
	echo "SKIP: needs $1, which this host lacks (Debian, Ubuntu: apt-get install $2)"
	exit $SKIP
}
fail() { echo "FAIL: $*" >&2; exit 1; }
# check DESCRIPTION COMMAND...: runs the command, fails unless it succeeds.
check() {
	local what=$1
	shift
	if "$@"; then echo "ok: $what"; else fail "$what"; fi
}
# contains HAYSTACK NEEDLE: fixed-string search.
contains() { grep -qF -- "$2" <<<"$1"; }

# need_in_rootfs TOOL PROVIDER: as need, for a program the solution runs
# in a container: the default root filesystem has it when it is built from
# busybox, or from a host that has it (internal/rootfs's OptionalTools).
need_in_rootfs() {
	local rootfs=/var/lib/cfs/rootfs
	if [ -f "$rootfs/.cfs-rootfs.json" ]; then
		[ -e "$rootfs/bin/$1" ] || [ -L "$rootfs/bin/$1" ] && return 0
	elif command -v busybox >/dev/null || command -v "$1" >/dev/null; then
		return 0 # the first run builds a root filesystem that has it
	fi
	echo "SKIP: needs $1 in the containers' default root filesystem, which this host's tools lack (install $2)"
	exit $SKIP
}

# stage_copy STAGE [PATCH...]: copies stageNN-name to $WORK/STAGE and applies
# the patches (made with diff -ruN from the stage's directory, so -p1), and
# prints the copy's directory. git apply, not patch(1), which few systems
# install by default; with GIT_CEILING_DIRECTORIES it does not look for the
# checkout's repository above the copy and works as patch -F0 does.
stage_copy() {
	local stage=$1 dir=$WORK/$1 p
	shift
	rm -rf "$dir"
	as_user cp -r "$ROOT/$stage" "$dir"
	for p in "$@"; do
		(cd "$dir" && as_user env GIT_CEILING_DIRECTORIES="$WORK" git apply -p1 "$p") >&2 ||
			fail "patch $(basename "$p") does not apply to $stage"
	done
	echo "$dir"
}

# Your own copies (STAGE=DIR[:DIR...], PROGRAM=DIR), as absolute paths:
# they may be relative to where the script was started.
_yours=()
if [ -n "${STAGE:-}" ]; then
	IFS=: read -r -a _dirs <<<"$STAGE"
	for _d in "${_dirs[@]}"; do
		[ -d "$_d" ] || fail "STAGE=$STAGE: $_d is not a directory (STAGE names your copy of a stage directory)"
		_yours+=("$(cd "$_d" && pwd)")
	done
fi
if [ -n "${PROGRAM:-}" ]; then
	[ -d "$PROGRAM" ] || fail "PROGRAM=$PROGRAM is not a directory (PROGRAM names the directory of your main.go)"
	PROGRAM=$(cd "$PROGRAM" && pwd)
fi
if [ -n "${CONFIG:-}" ]; then
	[ -f "$CONFIG" ] || fail "CONFIG=$CONFIG is not a file (CONFIG names your config.json)"
	CONFIG=$(cd "$(dirname "$CONFIG")" && pwd)/$(basename "$CONFIG")
fi

# stage_name DIR: the stage a directory is a copy of, from its
# `const stage = "stageNN-name"` line.
stage_name() { sed -n 's/^const stage = "\([^"]*\)"$/\1/p' "$1"/*.go 2>/dev/null | head -n 1; }

# answer_copy STAGE [PATCH...]: the stage with the exercise's answer in it,
# copied into $WORK; prints the copy's directory. That is the reference
# answer, STAGE with the patches applied, or with STAGE=… your own copy of
# STAGE, as it is.
answer_copy() {
	local stage=$1 d
	[ -n "${STAGE:-}" ] || [ -z "${PROGRAM:-}${CONFIG:-}" ] || fail "this exercise changes $stage: give your copy with STAGE=DIR, not PROGRAM or CONFIG"
	if [ ${#_yours[@]} = 0 ]; then
		stage_copy "$@"
		return
	fi
	for d in "${_yours[@]}"; do
		[ "$(stage_name "$d")" = "$stage" ] || continue
		rm -rf "$WORK/$stage-yours"
		as_user cp -r "$d" "$WORK/$stage-yours"
		touch "$WORK/.graded"
		echo "-- your copy of $stage: $d (instead of the reference patch)" >&2
		echo "$WORK/$stage-yours"
		return
	done
	fail "STAGE=$STAGE has no copy of $stage (a copy's main.go says const stage = \"$stage\")"
}

# answer_bin STAGE [PATCH...]: answer_copy, built; prints the binary.
answer_bin() {
	local dir
	dir=$(answer_copy "$@") || exit 1
	build "$dir" "$1-answer"
}

# program_copy DIR: for an exercise whose answer is a program of its own:
# DIR (the reference answer), or with PROGRAM=… a copy of yours inside the
# module, so that it can import what the module has; prints the directory.
program_copy() {
	[ -z "${STAGE:-}${CONFIG:-}" ] || fail "this exercise's answer is a program, not a change to a stage: give it with PROGRAM=DIR"
	if [ -z "${PROGRAM:-}" ]; then
		echo "$1"
		return
	fi
	rm -rf "$WORK/program-yours"
	as_user cp -r "$PROGRAM" "$WORK/program-yours"
	touch "$WORK/.graded"
	echo "-- your program: $PROGRAM (instead of the reference answer)" >&2
	echo "$WORK/program-yours"
}

# no_copy_to_grade: for an exercise that changes no code. What the script
# shows is the answer, so there is nothing of yours to check.
no_copy_to_grade() {
	[ -z "${STAGE:-}${PROGRAM:-}${CONFIG:-}" ] || fail "exercise $(basename "$HERE") changes no code, so there is no copy to check: run the script without STAGE; what it shows is the answer (see its README.md)"
}

# Chapter 09: the runtime (cfs runtime), a bundle, a container of it.
#
# runtime_bundle: builds the engine as $CFS and makes a bundle, $BUNDLE,
# with a copy of the default root filesystem (the chapter's `cp -a`) and
# the config.json of `cfs runtime spec`. $ID is a container's name of our
# own; on exit, the container is deleted, whatever state it is in.
runtime_bundle() {
	[ -e /var/lib/cfs/rootfs/bin/sh ] || fail "no default root filesystem in /var/lib/cfs/rootfs: run a stage once (sudo go run ./stage03-mount true)"
	CFS=$(build "$ROOT/final" cfs) || exit 1
	BUNDLE=$WORK/bundle ID=cfs-sol-$$
	mkdir -p "$BUNDLE/rootfs"
	cp -a /var/lib/cfs/rootfs/. "$BUNDLE/rootfs/"
	(cd "$BUNDLE" && "$CFS" runtime spec)
	defer '"$CFS" runtime delete --force "$ID"'
}
# answer_config EDIT [ARG...]: the bundle's config.json with the exercise's
# answer in it: the default one changed by the reference script EDIT (run
# as EDIT CONFIG ARG...), or with CONFIG=… yours, as it is.
answer_config() {
	if [ -z "${CONFIG:-}" ]; then
		"$@" "$BUNDLE/config.json"
		return
	fi
	[ -z "${STAGE:-}${PROGRAM:-}" ] || fail "this exercise's answer is a config.json: give yours with CONFIG=FILE"
	cp "$CONFIG" "$BUNDLE/config.json"
	touch "$WORK/.graded"
	echo "-- your config: $CONFIG (instead of the reference answer)"
}
# runtime_create [CMD...]: creates $ID from $BUNDLE, run by CMD (in_ns NS)
# if given, and sets pid to its init's. The container keeps create's
# stdout and stderr (they are its own), so they go to $WORK/out.
runtime_create() {
	"$@" "$CFS" runtime create --bundle "$BUNDLE" --pid-file "$WORK/pid" "$ID" >"$WORK/out" 2>&1 </dev/null ||
		fail "create: $(cat "$WORK/out")"
	pid=$(cat "$WORK/pid")
}
# state_is STATUS: whether `cfs runtime state` says so of $ID.
state_is() { "$CFS" runtime state "$ID" | grep -q "\"status\": \"$1\""; }
# cgroup_dir PID CONTROLLER: the directory of PID's cgroup that holds
# CONTROLLER's files, on cgroup v1 (/sys/fs/cgroup/CONTROLLER/…) or v2.
cgroup_dir() {
	local p
	p=$(awk -F: -v c="$2" '$2 ~ "(^|,)" c "(,|$)" {print $3}' /proc/"$1"/cgroup)
	if [ -n "$p" ]; then echo "/sys/fs/cgroup/$2$p"; else echo "/sys/fs/cgroup$(awk -F: '$1 == 0 {print $3}' /proc/"$1"/cgroup)"; fi
}

# Chapter 10: images.
#
# image_names: builds the engine as $CFS; $STORE is its image store, and
# $NAME and $IMG are a container's and an image's names of our own. On
# exit the container is removed, then the image (an image in use by a
# container cannot be removed).
image_names() {
	CFS=$(build "$ROOT/final" cfs) || exit 1
	STORE=/var/lib/cfs/images
	NAME=cfs-sol-$$ IMG=cfs-sol-$$:v1
	defer '"$CFS" rmi "$IMG"'
	defer '"$CFS" rm -f "$NAME"'
}

# Chapter 12: the Docker Engine API.
#
# api_serve: builds the engine as $CFS and starts `cfs serve` on a socket
# of its own, $SOCK, in a directory under /tmp (a unix socket's path has
# at most 107 bytes; the checkout's may be longer), waiting for its
# "listening" line; on exit the server gets SIGTERM and removes the socket.
# api METHOD PATH [CURL_ARG...]: a request to it with curl, as the docker
# client makes it: http://docker is only the Host header.
api_serve() {
	need curl curl
	CFS=$(build "$ROOT/final" cfs) || exit 1
	SOCKDIR=$(mktemp -d /tmp/cfs-sol-XXXXXX)
	defer 'rm -rf "$SOCKDIR"'
	SOCK=$SOCKDIR/docker.sock
	start server "$CFS" serve --host "unix://$SOCK"
	expect_line server "$(basename "$CFS") serve: listening on unix://$SOCK"
}
api() { curl -s --unix-socket "$SOCK" -X "$1" "${@:3}" "http://docker$2"; }
# content_type HEADERS WANT: checks that the response headers curl wrote
# to file HEADERS (-D) say Content-Type WANT.
content_type() {
	check "the response says so: Content-Type $2" grep -qix "content-type: $2" <<<"$(tr -d '\r' <"$1")"
}

# build DIR NAME: builds the package in DIR as $WORK/bin/NAME and prints that.
build() {
	as_user mkdir -p "$WORK/bin"
	(cd "$ROOT" && go build -o "$WORK/bin/$2" "./${1#"$ROOT"/}") >&2 || fail "build $1"
	echo "$WORK/bin/$2"
}

# gotest DIR FLAG...: the package's tests in DIR, as `go test -exec sudo`
# runs them: the test binary is built (as the user), then run as root in
# DIR with the flags (-test.run=…), and a last line says "ok" or "FAIL" and
# the package. Returns the tests' status.
gotest() {
	local dir=$1 bin rc=0
	shift
	as_user mkdir -p "$WORK/bin"
	bin=$WORK/bin/$(basename "$dir").test
	(cd "$ROOT" && go test -c -o "$bin" "./${dir#"$ROOT"/}") >&2 || fail "build the tests of $dir"
	(cd "$dir" && "$bin" -test.count=1 "$@") || rc=$?
	if [ $rc = 0 ]; then printf 'ok  \t%s\n' "${dir#"$ROOT"/}"; else printf 'FAIL\t%s\n' "${dir#"$ROOT"/}"; fi
	return $rc
}

# stage_bin STAGE [PATCH...]: a stage, patched or not, built; prints the binary.
stage_bin() {
	local name=$1
	[ $# -gt 1 ] && name=$1-patched
	build "$(stage_copy "$@")" "$name"
}

# sandbox VAR [ROLE]: a network namespace of our own, as `ip netns add` makes
# it, deleted on exit; its name goes into VAR. (Not printed: `defer` in a
# $(…) subshell would be lost.) Stages 05 on run in one, with `in_ns`
# (nsenter --net, which, unlike `ip netns exec`, leaves /sys and its cgroups
# alone), so they never touch the host's links, routes or nft rules.
_netns_seq=0
sandbox() {
	_netns_seq=$((_netns_seq + 1))
	local name=cfs-sol-$$-$_netns_seq${2:+-$2}
	# The first `ip netns add` after boot makes /run/netns a mount point of
	# its own (bound onto itself, shared) and leaves it so. When this one is
	# first, undo that too once the names are gone: the host as found.
	if [ $_netns_seq = 1 ] && ! mountpoint -q /run/netns; then
		defer '[ -n "$(ls -A /run/netns)" ] || umount /run/netns'
	fi
	ip netns add "$name"
	defer "ip netns delete $name"
	ip -n "$name" link set lo up
	printf -v "$1" %s "$name"
}

# start NAME CMD...: starts CMD in the background with its stdout on a fifo
# that the caller reads with `expect_line NAME LINE`; sets NAME_pid to the
# PID of CMD (the stage). Its stderr goes to $WORK/NAME.err. On exit, what is
# still running is stopped with SIGTERM and waited for.
start() {
	local name=$1
	shift
	# The PID must be the command's own, not a subshell's: in_ns is
	# spelled out, so that the background job executes nsenter directly.
	[ "$1" = in_ns ] && set -- nsenter --net=/run/netns/"$2" "${@:3}"
	rm -f "$WORK/$name.out" "$WORK/$name.seen"
	mkfifo "$WORK/$name.out"
	"$@" >"$WORK/$name.out" 2>"$WORK/$name.err" </dev/null &
	printf -v "${name}_pid" %s $!
	eval "exec {${name}_fd}<\"\$WORK/\$name.out\""
	defer "stop $name"
}
# start_in NAME CMD...: as start, but stdin comes from a fifo the caller
# writes with `send NAME LINE`.
start_in() {
	local name=$1
	shift
	rm -f "$WORK/$name.in"
	mkfifo "$WORK/$name.in"
	[ "$1" = in_ns ] && set -- nsenter --net=/run/netns/"$2" "${@:3}"
	start "$name" sh -c 'exec "$@" <"$0"' "$WORK/$name.in" "$@"
	eval "exec {${name}_in}>\"\$WORK/\$name.in\""
}
send() { local fd=${1}_in; echo "$2" >&"${!fd}"; }
# expect_line NAME WANT: reads NAME's stdout up to a line equal to WANT;
# fails if the stage ends first. The lines read are kept in $WORK/NAME.seen.
expect_line() {
	local fd=${1}_fd line
	while IFS= read -r line <&"${!fd}"; do
		echo "$line" >>"$WORK/$1.seen"
		[ "$line" = "$2" ] && return 0
	done
	fail "$1 ended before printing \"$2\"; stderr: $(cat "$WORK/$1.err")"
}
# rest NAME: the rest of NAME's stdout, after it ends.
rest() { local fd=${1}_fd; cat <&"${!fd}"; }
# finish NAME: waits for NAME to end and sets status to its exit status.
finish() {
	local pid=${1}_pid
	status=0
	wait "${!pid}" || status=$?
}
stop() {
	local pid=${1}_pid
	[ -n "${!pid:-}" ] || return 0
	kill -TERM "${!pid}" 2>/dev/null || true
	wait "${!pid}" 2>/dev/null || true
}
# child_of PID: the one child of PID (the container's first process, as the
# host numbers it).
child_of() {
	local kids
	kids=$(cat /proc/"$1"/task/*/children 2>/dev/null | xargs)
	case $kids in
	"" | *" "*) fail "process $1 has children \"$kids\", want exactly one" ;;
	esac
	echo "$kids"
}
# shm_key PID ID: the key of System V segment ID in PID's IPC namespace
# (/proc/sysvipc/* list the reader's namespace).
shm_key() { nsenter -t "$1" -i awk -v id="$2" 'NR > 1 && $2 == id {print $1}' /proc/sysvipc/shm; }
# host_has_shm KEY: whether the host's table has a segment with that key.
host_has_shm() { awk -v k="$1" 'NR > 1 && $1 == k {found = 1} END {exit !found}' /proc/sysvipc/shm; }

# tree DIR: the names under DIR, sorted: compare two to see whether anything
# was written there in between. (A check for one file's absence would fail
# whenever an earlier run, an exercise of chapter 03 for one, had left it in
# the shared root filesystem.)
tree() { find "$1" -xdev 2>/dev/null | LC_ALL=C sort; }

# waitgone PID: blocks until PID has ended (any process, not only children).
waitgone() { tail --pid="$1" -f /dev/null; }

# in_ns NAME CMD...: runs CMD in network namespace NAME (and nothing else of it).
in_ns() {
	local ns=$1
	shift
	nsenter --net=/run/netns/"$ns" "$@"
}
# wait_listen NSENTER_ARGS PORT: waits until a TCP socket listens on PORT in
# the network namespace that `nsenter NSENTER_ARGS` enters. Nothing tells a
# client when a server has called listen(), so this looks (bounded).
wait_listen() {
	local hex i
	hex=$(printf ':%04X ' "$2")
	for ((i = 0; i < 200; i++)); do
		# /proc/net/tcp lists the reader's network namespace; state 0A is LISTEN.
		nsenter $1 cat /proc/net/tcp /proc/net/tcp6 | awk -v p="$hex" 'index($2 " ", p) && $4 == "0A" {f = 1} END {exit !f}' && return 0
		sleep 0.05
	done
	fail "nothing listens on port $2 after 10s"
}
# world: the chapter 05 sandbox. host1 plays the host, wan the world, and a
# veth pair is the cable (198.51.100.0/24 is reserved for documentation).
# Sets HOST1 and WAN to the namespaces' names.
world() {
	sandbox HOST1 host1
	sandbox WAN wan
	ip -n "$HOST1" link add uplink type veth peer name eth0 netns "$WAN"
	ip -n "$HOST1" addr add 198.51.100.1/24 dev uplink
	ip -n "$HOST1" link set uplink up
	ip -n "$WAN" addr add 198.51.100.2/24 dev eth0
	ip -n "$WAN" link set eth0 up
}
