#!/usr/bin/env bash
# Exercise 12-1: the Docker Engine API by hand, with curl on a socket of
# our own: ping, create, start, wait, logs, an error, delete.
. "$(dirname "$0")/../lib.sh"
no_copy_to_grade

api_serve
NAME=cfs-sol-$$
defer '"$CFS" rm -f "$NAME"'

say "ping: GET /_ping, and the version the server speaks, in a header"
check "the ping answers OK" test "$(api GET /_ping)" = OK
hdr=$(api GET /_ping -I | tr -d '\r')
grep -i '^api-version' <<<"$hdr"
check "an Api-Version header says 1.47" grep -qix 'api-version: 1.47' <<<"$hdr"

say "create: POST /containers/create, the config as JSON; nothing runs yet"
body='{"Image":"cfs/base","Cmd":["sh","-c","echo hi; echo oops >&2; exit 3"],"HostConfig":{"NetworkMode":"none"}}'
out=$(api POST "/v1.47/containers/create?name=$NAME" -H 'Content-Type: application/json' -d "$body" -w '\n%{http_code}')
echo "$out"
check "201 Created, with the container's ID" grep -qE '^\{"Id":"[0-9a-f]{64}"' <<<"$out"
check "the status is 201" test "$(tail -n 1 <<<"$out")" = 201
check "the engine has it, as created (cfs inspect, not the API)" \
	test "$("$CFS" inspect -f '{{.State.Status}}' "$NAME")" = created

say "start, then wait: the wait's answer comes when the program has ended"
check "start answers 204 No Content" test "$(api POST "/v1.47/containers/$NAME/start" -w '%{http_code}')" = 204
out=$(api POST "/v1.47/containers/$NAME/wait")
echo "$out"
check "wait gives its exit status, 3" test "$out" = '{"StatusCode":3}'

say "logs: what it wrote, in frames (12-2 reads them); only stderr, here"
api GET "/v1.47/containers/$NAME/logs?stderr=1" | od -A n -t x1
check "stderr's frame holds oops, and nothing of stdout" \
	test "$(api GET "/v1.47/containers/$NAME/logs?stderr=1" | tail -c +9)" = oops

say "an error is a status and a message, in JSON"
out=$(api GET /v1.47/containers/nosuch/json -w '%{http_code}')
echo "$out"
check "404, {\"message\":\"No such container: nosuch\"}" \
	test "$out" = $'{"message":"No such container: nosuch"}\n404'

say "delete: DELETE /containers/NAME; the engine no longer has it"
check "delete answers 204" test "$(api DELETE "/v1.47/containers/$NAME" -w '%{http_code}')" = 204
check "cfs inspect finds no such container" bash -c '! "$0" inspect "$1" >/dev/null 2>&1' "$CFS" "$NAME"

say "the server stopped (SIGTERM): the socket goes with it"
stop server
check "no socket left" test ! -e "$SOCK"
