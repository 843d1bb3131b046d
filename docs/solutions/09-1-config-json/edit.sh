#!/bin/sh
# Exercise 09-1's answer: the changes to the config.json that `cfs runtime
# spec` writes, made with sed (no jq needed): no terminal, sleep 1000 as
# uid and gid 1000, the hostname lab, and at most 20 processes.
set -e
sed -i \
	-e 's/"terminal": true/"terminal": false/' \
	-e '/"user": {/,/}/{s/"uid": 0/"uid": 1000/;s/"gid": 0/"gid": 1000/}' \
	-e '/"args": \[/,/\]/s/"sh"/"sleep", "1000"/' \
	-e 's/"hostname": "cfs"/"hostname": "lab"/' \
	-e 's/^\(\t*\)"resources": {$/&\n\1\t"pids": {"limit": 20},/' \
	"$1"
