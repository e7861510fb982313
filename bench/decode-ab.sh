#!/usr/bin/env bash
# Compares the decoder of this tree with the decoder of another commit
# (default: the last one before tunnel decapsulation and fragment
# reassembly landed) on the same plain frames: BenchmarkDecode, whose
# frames are IPv4/TCP, IPv6/UDP and 802.1Q-tagged IPv4/TCP Ethernet frames.
# Both test binaries are built first, then run alternately ROUNDS times
# (default 11), so that the machine's noise falls on both alike; the
# medians and their ratio are printed.
#   bench/decode-ab.sh                 # from the repository root
#   BASE=<commit> ROUNDS=21 bench/decode-ab.sh
set -euo pipefail
base=${BASE:-ba5cae98fda5ff8bc5391ef0e1988525c3a75077}
rounds=${ROUNDS:-11}
tmp=$(mktemp -d)
trap 'git worktree remove --force "$tmp/base" >/dev/null 2>&1 || true; rm -rf "$tmp"' EXIT
git worktree add --detach "$tmp/base" "$base" >/dev/null 2>&1
(cd "$tmp/base" && go test -c -o "$tmp/base.test" ./flowkey)
go test -c -o "$tmp/head.test" ./flowkey
run() { "$1" -test.run '^$' -test.bench '^BenchmarkDecode$' -test.benchtime 2s | awk '$1 ~ /^BenchmarkDecode/ { for (i = 2; i <= NF; i++) if ($i == "ns/pkt") print $(i-1) }'; }
for ((r = 0; r < rounds; r++)); do
	echo "base $(run "$tmp/base.test")"
	echo "head $(run "$tmp/head.test")"
done | awk -v base="$(git rev-parse --short "$base")" '
	{ v[$1] = v[$1] " " $2; print }
	END {
		for (n in v) {
			k = split(substr(v[n], 2), xs, " ")
			for (i = 2; i <= k; i++) { x = xs[i]; j = i - 1; while (j > 0 && xs[j] + 0 > x + 0) { xs[j+1] = xs[j]; j-- } xs[j+1] = x }
			med[n] = (k % 2) ? xs[(k+1)/2] : (xs[k/2] + xs[k/2+1]) / 2
		}
		printf "\nmedian of %d rounds, ns/pkt: base (%s) %.2f, head %.2f, head/base %.3f\n", k, base, med["base"], med["head"], med["head"] / med["base"]
	}'
