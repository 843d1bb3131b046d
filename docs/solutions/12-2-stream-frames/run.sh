#!/usr/bin/env bash
# Exercise 12-2: the 8-byte frame header of a multiplexed stream (logs, as
# attach), read with od; and a container with a terminal, whose stream has
# no frames.
. "$(dirname "$0")/../lib.sh"
no_copy_to_grade

api_serve
NAME=cfs-sol-$$ TTYNAME=cfs-sol-$$-tty
defer '"$CFS" rm -f "$NAME"'
defer '"$CFS" rm -f "$TTYNAME"'

# run NAME CONFIG: creates, starts and waits for a container by the API.
run() {
	api POST "/v1.47/containers/create?name=$1" -H 'Content-Type: application/json' -d "$2" >/dev/null
	api POST "/v1.47/containers/$1/start" >/dev/null
	api POST "/v1.47/containers/$1/wait" >/dev/null
}

say "a container that writes to stdout and stderr, without a terminal"
run "$NAME" '{"Image":"cfs/base","Cmd":["sh","-c","echo hi; echo oops >&2; echo bye"],"HostConfig":{"NetworkMode":"none"}}'
api GET "/v1.47/containers/$NAME/logs?stdout=1&stderr=1" -D "$WORK/logs.hdr" >"$WORK/logs"
content_type "$WORK/logs.hdr" application/vnd.docker.multiplexed-stream
od -A d -t x1 "$WORK/logs"

say "the frames, by hand: [STREAM 0 0 0 SIZE(4 bytes, big-endian)] then SIZE bytes"
mapfile -t b <<<"$(od -A n -t u1 -v "$WORK/logs" | tr -s ' ' '\n' | grep .)"
: >"$WORK/stream.1"
: >"$WORK/stream.2"
i=0 frames=0
while ((i < ${#b[@]})); do
	((i + 8 <= ${#b[@]})) || fail "a frame header cut short at byte $i"
	stream=${b[i]} size=$(((b[i + 4] << 24) | (b[i + 5] << 16) | (b[i + 6] << 8) | b[i + 7]))
	echo "frame at byte $i: stream $stream, $size bytes"
	check "bytes 1-3 of the header are 0" test "${b[i + 1]}${b[i + 2]}${b[i + 3]}" = 000
	case $stream in 1 | 2) ;; *) fail "stream $stream: want 1 (stdout) or 2 (stderr)" ;; esac
	tail -c +$((i + 9)) "$WORK/logs" | head -c "$size" >>"$WORK/stream.$stream"
	i=$((i + 8 + size)) frames=$((frames + 1))
done
check "the frames end exactly at the end of the stream" test "$i" = ${#b[@]}
check "at least one frame per stream" test "$frames" -ge 2
printf 'stdout: %q\nstderr: %q\n' "$(cat "$WORK/stream.1")" "$(cat "$WORK/stream.2")"
check "stream 1 is stdout: hi, then bye" test "$(cat "$WORK/stream.1")" = $'hi\nbye'
check "stream 2 is stderr: oops" test "$(cat "$WORK/stream.2")" = oops

say "with a terminal, one stream and no frames: the raw bytes of the pty"
run "$TTYNAME" '{"Image":"cfs/base","Tty":true,"Cmd":["sh","-c","echo hi; echo oops >&2"],"HostConfig":{"NetworkMode":"none"}}'
api GET "/v1.47/containers/$TTYNAME/logs?stdout=1&stderr=1" -D "$WORK/tty.hdr" >"$WORK/tty"
content_type "$WORK/tty.hdr" application/vnd.docker.raw-stream
od -A d -t x1 "$WORK/tty"
check "the stream starts with the text itself, not a header" test "$(head -c 2 "$WORK/tty")" = hi
check "both lines in one stream, with the terminal's \\r\\n" test "$(cat "$WORK/tty")" = $'hi\r\noops\r'
