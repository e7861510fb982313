#!/usr/bin/env bash
# Checks that two builds of the command write the same output: records
# on standard output, the summary line (its timing left out), and every
# transcript file, on every capture of ../shared/corpus (the conformance
# captures, the JA4 captures and Zeek's traces), on the embedded sample,
# and on any captures named in EXTRA, each with several option sets
# (one and three workers, flows only, transcripts with text). Records
# that are not the same bytes are compared by bench/samejson: the same
# records kind by kind, with the same values, pass (and are counted);
# anything else is a difference.
#
#   bench/same-output.sh OLD_REV [NEW_REV]     # NEW_REV defaults to the work tree
#   EXTRA="/tmp/flowscope-workload-1.pcap" bench/same-output.sh HEAD~3
#
# It prints one line per difference and exits 1 if there is any.
set -euo pipefail
cd "$(dirname "$0")/.."
old=$1 new=${2:-}
corpus=${CORPUS:-../shared/corpus}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

build() { # build REV DIR: the command at REV (the work tree when REV is empty)
	if [ -z "$1" ]; then
		go build -o "$2/flowscope" ./cmd/flowscope
		return
	fi
	git worktree add -q --detach "$2/src" "$1"
	(cd "$2/src" && go build -o "$2/flowscope" ./cmd/flowscope)
	git worktree remove --force "$2/src"
}
mkdir -p "$tmp/a" "$tmp/b"
build "$old" "$tmp/a"
build "$new" "$tmp/b"
go build -o "$tmp/samejson" ./bench/samejson

captures=()
for d in "$corpus/pcaps" "$corpus/ja4/pcaps" "$corpus/zeek/traces"; do
	[ -d "$d" ] && while IFS= read -r f; do captures+=("$f"); done < <(find "$d" -maxdepth 1 -type f \( -name '*.pcap' -o -name '*.pcapng' -o -name '*.cap' -o -name '*.trace' \) | LC_ALL=C sort)
done
for f in ${EXTRA:-}; do captures+=("$f"); done
captures+=("") # the embedded sample

# run BIN OUTDIR CAPTURE OPTIONS...: records, summary and transcripts of one run.
run() {
	local bin=$1 out=$2 pcap=$3
	shift 3
	mkdir -p "$out"
	local args=()
	[ -n "$pcap" ] && args=(-r "$pcap")
	"$bin" "${args[@]}" "$@" >"$out/stdout" 2>"$out/stderr" || echo "exit $?" >>"$out/stderr"
	# The summary's elapsed time and rate vary from run to run.
	sed -E -i 's/, [0-9.]+(µs|us|ms|s|m[0-9.]+s|h[0-9hm.]+s), [0-9]+ packets\/s$//' "$out/stderr"
}

modes=("--workers 1" "--workers 3" "--workers 1 --protocols none" "--workers 2 --transcripts TR --transcripts-text")
diffs=0 runs=0 exact=0
for pcap in "${captures[@]}"; do
	for m in "${modes[@]}"; do
		for side in a b; do
			# Both runs write to the same path, so that paths in messages agree.
			o="$tmp/run"
			rm -rf "$o" "$tmp/$side/out"
			# shellcheck disable=SC2086
			run "$tmp/$side/flowscope" "$o" "$pcap" ${m//TR/$o/tr}
			mv "$o" "$tmp/$side/out"
		done
		runs=$((runs + 1))
		if diff -r -q "$tmp/a/out" "$tmp/b/out" >/dev/null 2>&1; then
			exact=$((exact + 1))
			continue
		fi
		# Records: the same kind by kind? Everything else: the same bytes.
		s="" d=""
		if ! s=$("$tmp/samejson" "$tmp/a/out/stdout" "$tmp/b/out/stdout" 2>&1) ||
			! d=$(diff -r -x stdout "$tmp/a/out" "$tmp/b/out" 2>&1); then
			echo "differs: ${pcap:-embedded sample} ($m)"
			echo "$s" | head -5
			echo "${d:-}" | head -5
			diffs=$((diffs + 1))
		else
			echo "same records: ${pcap:-embedded sample} ($m): $s"
		fi
	done
done
echo "$runs runs over ${#captures[@]} captures: $exact byte for byte the same, $diffs differ"
[ "$diffs" -eq 0 ]
