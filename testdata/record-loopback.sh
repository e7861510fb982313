#!/usr/bin/env bash
# Records real HTTP and DNS traffic on the loopback interface into
# sample/loopback-http-dns.pcap, the capture embedded in the
# flowscope command and used by tests. Real servers (nginx, dnsmasq) and
# real clients (curl, dig) talk over IPv4 and IPv6; tcpdump records it.
#
# Needs root (capture, port 53). Installs what is missing with apt-get.
# Run from the repository root:  sudo testdata/record-loopback.sh
set -euo pipefail

out=${1:-sample/loopback-http-dns.pcap}
need=()
for p in tcpdump:tcpdump nginx:nginx dnsmasq:dnsmasq curl:curl dig:dnsutils; do
	command -v "${p%%:*}" >/dev/null || need+=("${p##*:}")
done
if ((${#need[@]})); then
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

work=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	[ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/www"
printf '<html><body>flowscope sample</body></html>\n' >"$work/www/index.html"
head -c 20000 /dev/zero | tr '\0' 'x' >"$work/www/big.txt"
cat >"$work/nginx.conf" <<CONF
daemon on;
user root;
pid $work/nginx.pid;
error_log $work/error.log;
events {}
http {
	access_log off;
	server {
		listen 127.0.0.1:8080;
		listen [::1]:8080;
		root $work/www;
		location /echo { return 200 "posted\n"; }
	}
}
CONF
nginx -c "$work/nginx.conf"

dnsmasq --no-daemon --port=53 --listen-address=127.0.0.1 --bind-interfaces --no-resolv \
	--no-hosts --address=/www.example.test/192.0.2.10 --address=/www.example.test/2001:db8::10 \
	--txt-record=txt.example.test,"flowscope sample" >"$work/dnsmasq.log" 2>&1 &
pids+=($!)
sleep 0.5

tcpdump -i lo -U -s 0 -w "$work/cap.pcap" 'port 8080 or port 53' 2>"$work/tcpdump.log" &
tpid=$!
pids+=("$tpid")
sleep 1

curl -s -o /dev/null http://127.0.0.1:8080/
curl -s -o /dev/null -g 'http://[::1]:8080/big.txt'
curl -s -o /dev/null http://127.0.0.1:8080/index.html -o /dev/null http://127.0.0.1:8080/missing
curl -s -o /dev/null -d 'name=flowscope&kind=sample' http://127.0.0.1:8080/echo
dig +short @127.0.0.1 www.example.test A >/dev/null
dig +short @127.0.0.1 www.example.test AAAA >/dev/null
dig +short +tcp @127.0.0.1 txt.example.test TXT >/dev/null
dig +short @127.0.0.1 nothing.example.test A >/dev/null || true

sleep 1
kill -INT "$tpid"
wait "$tpid" 2>/dev/null || true
cp "$work/cap.pcap" "$out"
echo "wrote $out ($(stat -c %s "$out") bytes)"
