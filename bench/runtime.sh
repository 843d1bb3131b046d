#!/usr/bin/env bash
# The runtime against runc: `cfs runtime run` and Debian's `runc run` on the
# same bundle, a container whose program is `true`, side by side in one
# hyperfine run. See bench/README.md; results go in bench/RESULTS.md.
#
#   sudo env "PATH=$PATH" bench/runtime.sh [RUNS]     (default 200)
#
# BASELINE=REV (a git revision) runs that revision's cfs beside this one,
# in the same hyperfine run: the before and after of a change. cfs is
# built static (CGO_ENABLED=0), as runc's releases are; the default
# `go build` (dynamic, with cgo) is also measured once, as
# "cfs runtime run (go build)".
. "$(dirname "$0")/lib.sh"
runs=${1:-200}

for tool in runc hyperfine; do
	command -v "$tool" >/dev/null || { echo "bench: $tool is not installed (apt-get install runc hyperfine)" >&2; exit 1; }
done

sweep
work=$(mktemp -d /tmp/cfs-bench-runtime-$$.XXXXXX)
trap 'rm -rf "$work"' EXIT
# Each binary in a directory of its own, under its runc name.
build() { # DIR [go build flags]: cfs and its cfs-runc name in $work/DIR
	local dir=$work/$1
	shift
	mkdir -p "$dir"
	go build -o "$dir/cfs" "$@" ./final
	ln -s cfs "$dir/cfs-runc"
}
CGO_ENABLED=0 build static
build dynamic
cp "$work/static/cfs" "$work/cfs"
if [ -n "${BASELINE:-}" ]; then
	mkdir -p "$work/src"
	git -c safe.directory="$PWD" archive "$BASELINE" | tar -x -C "$work/src"
	(cd "$work/src" && mkdir -p "$work/base" && CGO_ENABLED=0 go build -o "$work/base/cfs" ./final && ln -s cfs "$work/base/cfs-runc")
fi

# The default root filesystem, built by the first stage that needs it.
if [ ! -e /var/lib/cfs/rootfs/.cfs-rootfs.json ]; then
	go run ./stage03-mount true >/dev/null
fi
mkdir -p "$work/bundle/rootfs"
cp -a /var/lib/cfs/rootfs/. "$work/bundle/rootfs/"
(cd "$work/bundle" && "$work/cfs" runtime spec)
sed -i -e 's/"terminal": true/"terminal": false/' -e 's/^\(\t*\)"sh"$/\1"true"/' "$work/bundle/config.json"
grep -q '"true"' "$work/bundle/config.json" || { echo "bench: could not set the program to true" >&2; exit 1; }

# Each run creates, starts, waits for and deletes one container; the ID is
# free again when the next run starts.
cmds=(-n "runc run" "runc --root $work/state-runc run --bundle $work/bundle cfs-bench-runc"
	-n "cfs runtime run" "$work/static/cfs-runc --root $work/state-cfs run --bundle $work/bundle cfs-bench-cfs"
	-n "cfs runtime run (go build)" "$work/dynamic/cfs-runc --root $work/state-cfs run --bundle $work/bundle cfs-bench-dyn")
if [ -n "${BASELINE:-}" ]; then
	cmds+=(-n "cfs runtime run ($BASELINE)" "$work/base/cfs-runc --root $work/state-cfs run --bundle $work/bundle cfs-bench-base")
fi
hyperfine -N --warmup 10 --runs "$runs" --export-markdown "$work/results.md" "${cmds[@]}"
cat "$work/results.md"
echo
echo "machine: $(uname -sr), $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(stat -f -c %T /sys/fs/cgroup | sed 's/tmpfs/cgroup v1 (hybrid)/; s/cgroup2fs/cgroup v2/')"
echo "runc: $(runc --version | head -n 1); hyperfine: $(hyperfine --version)"
