#!/usr/bin/env bash
# The image store's benchmark: pull and unpack a ~100 MB image of five
# layers from a registry on loopback, cfs against skopeo copy + umoci
# unpack (the usual pair of tools for the same job), side by side in one
# hyperfine run. Run as root (owners are kept, as in a real pull):
#
#   sudo env "PATH=$PATH" bench/images.sh          # RUNS=10 for more runs
#
# It installs hyperfine, skopeo, umoci and docker-registry with apt when
# missing, builds the image from this host's own files
# (bench/images-mkimage), serves it with Debian's docker-registry on
# 127.0.0.1, and prints hyperfine's table and the machine. Both sides
# start from an empty store each run and fetch every byte over HTTP;
# nothing leaves the machine. bench/README.md says what each side does.
. "$(dirname "$0")/lib.sh"

pkgs=()
for tool in hyperfine skopeo umoci docker-registry; do
	command -v "$tool" >/dev/null || pkgs+=("$tool")
done
if [ ${#pkgs[@]} -gt 0 ]; then
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
fi

sweep
work=$(mktemp -d /var/tmp/cfs-bench-images-$$.XXXXXX)
registry_pid=
cleanup() {
	[ -z "$registry_pid" ] || kill "$registry_pid" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

echo "== build cfs and the image (5 layers of this host's files, 20 MB each)"
go build -o "$work/cfs" ./final
dirs=()
for d in /usr/lib/x86_64-linux-gnu /usr/lib/aarch64-linux-gnu /usr/share /usr/bin /usr/lib/python3 /usr/lib /usr/sbin /usr/include; do
	[ -d "$d" ] && dirs+=("$d")
done
go run ./bench/images-mkimage -o "$work/layout" -layer-size 20000000 "${dirs[@]:0:5}"

echo "== serve it: Debian's docker-registry on loopback"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$work/registry.yml" <<YML
version: 0.1
log: {level: error, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $work/registry}}
http: {addr: 127.0.0.1:$port}
YML
docker-registry serve "$work/registry.yml" >"$work/registry.log" 2>&1 &
registry_pid=$!
for _ in $(seq 100); do
	(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
	sleep 0.1
done
ref=127.0.0.1:$port/bench/big:v1
skopeo --insecure-policy copy -q --dest-tls-verify=false "oci:$work/layout:bench" "docker://$ref"
size=$(du -sb "$work/registry" | cut -f1)
echo "image: $ref, $((size / 1000000)) MB in the registry (gzip)"

echo "== pull and unpack, side by side"
hyperfine --warmup 1 --runs "${RUNS:-5}" --export-markdown "$work/results.md" \
	--prepare "rm -rf $work/cfs-store" \
	-n "cfs pull" \
	"CFS_IMAGE_STORE=$work/cfs-store $work/cfs pull -q $ref" \
	--prepare "rm -rf $work/oci $work/bundle" \
	-n "skopeo copy + umoci unpack" \
	"skopeo --insecure-policy copy -q --src-tls-verify=false docker://$ref oci:$work/oci:big && umoci unpack --image $work/oci:big $work/bundle"

echo
cat "$work/results.md"
echo
echo "unpacked: cfs $(du -sb "$work/cfs-store/layers" | cut -f1) bytes in $(ls "$work/cfs-store/layers" | wc -l) layer dirs; umoci $(du -sb "$work/bundle/rootfs" | cut -f1) bytes in one rootfs"
echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) CPUs, $(free -g | awk '/^Mem:/ {print $2}') GiB, Linux $(uname -r), $(findmnt -no FSTYPE -T /var/tmp) under /var/tmp"
echo "versions: $("$work/cfs" --help >/dev/null 2>&1; go version | cut -d' ' -f3), skopeo $(skopeo --version | cut -d' ' -f3), umoci $(umoci --version | awk '{print $3}'), hyperfine $(hyperfine --version | cut -d' ' -f2)"
