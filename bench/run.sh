#!/usr/bin/env bash
# Runs the whole-path benchmarks COUNT times (default 7) in one process
# per benchmark set and prints the median ns/pkt of each, with its ratio
# to the plain pcapgo read measured in the same run.
#   bench/run.sh            # from the repository root
#   COUNT=11 bench/run.sh
# The first run generates the 1.1M-packet capture in $TMPDIR (~170 MB).
set -euo pipefail
count=${COUNT:-7}
out=$(go test -run '^$' -bench 'PcapgoRead|SourceRead|ReadDecodeTrack|Pipeline' -benchmem \
	-count "$count" -benchtime 3x ./bench)
echo "$out" | grep -E '^(goos|goarch|cpu|Benchmark)'
echo
echo "$out" | awk '
	/^Benchmark/ {
		name = $1; sub(/-[0-9]+$/, "", name)
		for (i = 2; i <= NF; i++) if ($i == "ns/pkt") v[name] = v[name] " " $(i-1)
		for (i = 2; i <= NF; i++) if ($i == "allocs/op") a[name] = $(i-1)
	}
	END {
		for (n in v) {
			k = split(substr(v[n], 2), xs, " ")
			# insertion sort, then the median
			for (i = 2; i <= k; i++) { x = xs[i]; j = i - 1; while (j > 0 && xs[j] + 0 > x + 0) { xs[j+1] = xs[j]; j-- } xs[j+1] = x }
			med[n] = (k % 2) ? xs[(k+1)/2] : (xs[k/2] + xs[k/2+1]) / 2
		}
		base = med["BenchmarkPcapgoRead"]
		for (n in med) printf "%-36s %10.1f %7.2fx %14s\n", n, med[n], med[n] / base, a[n]
	}' | sort >/tmp/flowscope-bench-medians.$$
printf "%-36s %10s %8s %14s\n" "benchmark (median of $count)" "ns/pkt" "ratio" "allocs/pass"
cat /tmp/flowscope-bench-medians.$$
rm -f /tmp/flowscope-bench-medians.$$
