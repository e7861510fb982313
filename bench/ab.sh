#!/usr/bin/env bash
# Runs two flowscope binaries alternately on one capture and prints the
# median wall and CPU (user+system) seconds of each and their ratios: a
# quick A/B for a change, less noisy than one timing of each.
#   bench/ab.sh OLD_BINARY NEW_BINARY CAPTURE [ROUNDS] -- [flowscope options]
set -euo pipefail
a=$1 b=$2 pcap=$3 rounds=${4:-15}
shift 4 || shift 3
[ "${1:-}" = "--" ] && shift
cat "$pcap" >/dev/null
for ((r = 0; r < rounds; r++)); do
	for bin in "$a" "$b"; do
		/usr/bin/time -f "$bin %e %U %S" "$bin" -q -r "$pcap" "$@" 2>&1 >/dev/null | tail -1
	done
done | awk -v a="$a" -v b="$b" '
	{ w[$1] = w[$1] " " $2; c[$1] = c[$1] " " ($3 + $4) }
	function median(list,    k, xs, i, j, x) {
		k = split(substr(list, 2), xs, " ")
		for (i = 2; i <= k; i++) { x = xs[i]; j = i - 1; while (j > 0 && xs[j] + 0 > x + 0) { xs[j+1] = xs[j]; j-- } xs[j+1] = x }
		return (k % 2) ? xs[(k+1)/2] : (xs[k/2] + xs[k/2+1]) / 2
	}
	END {
		printf "A %s: wall %.3f s, cpu %.3f s\n", a, median(w[a]), median(c[a])
		printf "B %s: wall %.3f s, cpu %.3f s\n", b, median(w[b]), median(c[b])
		printf "B/A: wall %.3f, cpu %.3f\n", median(w[b]) / median(w[a]), median(c[b]) / median(c[a])
	}'
