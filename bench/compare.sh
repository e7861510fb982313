#!/usr/bin/env bash
# Times flowscope against the tools people use today, on one capture, in
# one run: every tool once per round, rounds interleaved so that the
# machine's noise falls on all alike, medians reported with packets per
# second, ratios and peak memory (maximum resident set size).
#
#   bench/compare.sh                      # from the repository root
#   ROUNDS=5 PCAP=/tmp/other.pcap bench/compare.sh
#   TOOLS="cat fs-flows fs-all-1" bench/compare.sh    # a subset
#
# The capture defaults to the benchmark workload (go run ./bench/workload),
# generated into $TMPDIR on first use (2.05M packets, 106k flows, 1.3 GB).
# Needs tshark and tcpflow (apt-get install tshark tcpflow) and GNU time.
set -euo pipefail
rounds=${ROUNDS:-3}
tmp=${TMPDIR:-/tmp}
# Transcripts (tcpflow's and ours) go to memory by default: on the disk of
# the machine these figures come from, creating 84,000 files took from 7 to
# 33 seconds for the same tool from one run to the next, which measured
# the disk, not the tools. OUT=/some/disk/dir measures the disk too.
outroot=${OUT:-$( [ -d /dev/shm ] && echo /dev/shm || echo "$tmp")}
pcap=${PCAP:-$tmp/flowscope-workload-1.pcap}
tools=${TOOLS:-"cat fs-flows fs-all-1 fs-all fs-all-4 tshark gopacket tcpflow fs-transcripts"}
bin=$(mktemp -d)
trap 'rm -rf "$bin" "$outroot/compare-out.$$"*' EXIT

go build -o "$bin/flowscope" ./cmd/flowscope
go build -o "$bin/gopacketbase" ./bench/gopacketbase
if [ ! -s "$pcap" ]; then
	go run ./bench/workload -o "$pcap"
fi
packets=$("$bin/flowscope" -r "$pcap" --protocols none --workers 1 2>&1 >/dev/null | sed -E 's/^flowscope: ([0-9]+) packets.*/\1/')
out="$outroot/compare-out.$$"

# cmd NAME: the command line of a tool.
cmd() {
	case $1 in
	cat) echo "cat $pcap" ;;
	fs-flows) echo "$bin/flowscope -q -r $pcap --protocols none --workers 1" ;;
	fs-all-1) echo "$bin/flowscope -q -r $pcap --workers 1" ;;
	fs-all) echo "$bin/flowscope -q -r $pcap" ;;
	fs-all-4) echo "$bin/flowscope -q -r $pcap --workers 4" ;;
	tshark) echo "tshark -n -r $pcap -T fields -Y http.request||http.response||dns||tls.handshake.type==1||tls.handshake.type==2 -e frame.time_epoch -e ip.src -e ip.dst -e tcp.srcport -e tcp.dstport -e http.request.method -e http.host -e http.request.uri -e http.response.code -e dns.id -e dns.qry.name -e dns.qry.type -e dns.flags.rcode -e tls.handshake.type -e tls.handshake.extensions_server_name -e tls.handshake.ciphersuite" ;;
	gopacket) echo "$bin/gopacketbase $pcap" ;;
	tcpflow) echo "tcpflow -r $pcap -o $dir" ;;
	fs-transcripts) echo "$bin/flowscope -q -r $pcap --protocols none --workers 1 --transcripts $dir" ;;
	*) echo "unknown tool $1" >&2; exit 2 ;;
	esac
}

cat "$pcap" >/dev/null # into the page cache: every tool reads it from memory
results=$(mktemp)
for ((r = 1; r <= rounds; r++)); do
	for t in $tools; do
		# Each run writes into a directory of its own, removed after it.
		dir="$out.dir/$t.$r"
		mkdir -p "$dir"
		sync
		# shellcheck disable=SC2046
		# Standard output goes to /dev/null: the run measures reading and
		# analysing, not the disk (transcripts are files: they are written).
		/usr/bin/time -f "%e %M" -o "$out.time" $(cmd "$t") >/dev/null 2>&1 || { echo "$t failed" >&2; exit 1; }
		read -r secs kb <"$out.time"
		echo "$t $secs $kb" | tee -a "$results" >&2
		rm -rf "$dir"
	done
done
rm -rf "$out.dir"

echo
echo "capture: $pcap, $packets packets; medians of $rounds rounds ($(nproc) CPUs)"
echo
awk -v packets="$packets" -v order="$tools" '
	{ s[$1] = s[$1] " " $2; m[$1] = m[$1] " " $3 }
	function median(list,    k, xs, i, j, x) {
		k = split(substr(list, 2), xs, " ")
		for (i = 2; i <= k; i++) { x = xs[i]; j = i - 1; while (j > 0 && xs[j] + 0 > x + 0) { xs[j+1] = xs[j]; j-- } xs[j+1] = x }
		return (k % 2) ? xs[(k+1)/2] : (xs[k/2] + xs[k/2+1]) / 2
	}
	END {
		n = split(order, names, " ")
		for (i = 1; i <= n; i++) { t = names[i]; sec[t] = median(s[t]); mem[t] = median(m[t]) }
		printf "| tool | seconds | packets/s | vs cat | vs tshark | peak RSS |\n|---|---:|---:|---:|---:|---:|\n"
		for (i = 1; i <= n; i++) {
			t = names[i]
			vc = ("cat" in sec) ? sprintf("%.1fx", sec[t] / sec["cat"]) : "-"
			vt = ("tshark" in sec) ? sprintf("%.1fx", sec["tshark"] / sec[t]) : "-"
			printf "| %s | %.2f | %.0f | %s | %s | %.0f MB |\n", t, sec[t], packets / sec[t], vc, vt, mem[t] / 1024
		}
	}' "$results"
rm -f "$results"
