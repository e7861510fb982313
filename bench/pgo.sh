#!/usr/bin/env bash
# Regenerates cmd/flowscope/default.pgo, the profile `go build` uses for
# profile-guided optimisation of the command: CPU profiles of the command
# on the benchmark workload in the three ways the comparison runs it (all
# parsers on one worker and on two, flow records only), twice each,
# merged. Run it from the repository root after changes to the hot paths;
# a stale profile still builds, it only helps less.
#
#   bench/pgo.sh                       # PCAP=/other.pcap to profile another capture
set -euo pipefail
tmp=${TMPDIR:-/tmp}
pcap=${PCAP:-$tmp/flowscope-workload-1.pcap}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [ ! -s "$pcap" ]; then
	go run ./bench/workload -o "$pcap"
fi
# Profile a build made without the current profile, so that the new one
# does not depend on the old.
go build -pgo=off -o "$work/flowscope" ./cmd/flowscope
n=0
for round in 1 2; do
	for opts in "--workers 1" "--workers 2" "--protocols none --workers 1"; do
		n=$((n + 1))
		# shellcheck disable=SC2086 # opts is a list of options
		"$work/flowscope" -q -r "$pcap" $opts --cpuprofile "$work/$n.pprof" >/dev/null
	done
done
go tool pprof -proto "$work"/*.pprof >cmd/flowscope/default.pgo
echo "cmd/flowscope/default.pgo: $(wc -c <cmd/flowscope/default.pgo) bytes from $n profiles of $pcap"
