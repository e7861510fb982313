#!/usr/bin/env bash
# Records real SMTP and syslog traffic on the loopback interface into
# testdata/mail-syslog.pcap, the capture examples/customparsers reads:
# Python's smtplib client sending two messages to its smtpd server (port
# 2525; one session with STARTTLS refused, one plain), util-linux logger
# sending RFC 5424 and RFC 3164 messages over UDP to port 5514, where a
# socket takes them, and one DNS query that nobody answers, so that a
# built-in parser has something beside the custom ones. tcpdump records
# it all.
#
# Needs root (capture). Installs tcpdump when it is missing. Run from the
# repository root:  sudo testdata/record-mail-syslog.sh
set -euo pipefail

out=${1:-testdata/mail-syslog.pcap}
command -v tcpdump >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tcpdump >/dev/null; }

work=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT

# The SMTP server: smtpd from Python's standard library, printing nothing.
python3 -W ignore - >/dev/null 2>&1 <<'PY' &
import asyncore, smtpd
class Quiet(smtpd.SMTPServer):
    def process_message(self, *args, **kw):
        return None
Quiet(("127.0.0.1", 2525), None)
asyncore.loop()
PY
pids+=($!)
# The syslog collector: a UDP socket that reads and drops.
python3 - >/dev/null 2>&1 <<'PY' &
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 5514))
while True:
    s.recv(65535)
PY
pids+=($!)
sleep 1

tcpdump -i lo -w "$out" -U 'tcp port 2525 or udp port 5514 or udp port 53' 2>/dev/null &
pids+=($!)
sleep 1

python3 - <<'PY'
import smtplib
from email.message import EmailMessage
for i, (sender, rcpts, subject) in enumerate([
        ("alice@example.test", ["bob@example.test"], "lunch"),
        ("carol@example.test", ["dave@example.test", "erin@example.test"], "minutes")]):
    m = EmailMessage()
    m["From"], m["To"], m["Subject"] = sender, ", ".join(rcpts), subject
    m.set_content("See you at noon.\n" if i == 0 else "Attached are the minutes.\n" * 40)
    with smtplib.SMTP("127.0.0.1", 2525, local_hostname="client%d.example.test" % i) as s:
        s.ehlo()
        if i == 0:
            try:
                s.starttls()
            except smtplib.SMTPNotSupportedError:
                pass
        s.send_message(m, from_addr=sender, to_addrs=rcpts)
PY
logger --server 127.0.0.1 --port 5514 --udp --rfc5424 --tag app -p local0.warning "disk almost full on /var"
logger --server 127.0.0.1 --port 5514 --udp --rfc3164 --tag cron -p cron.info "job 42 finished"
logger --server 127.0.0.1 --port 5514 --udp --rfc5424 --tag sshd -p auth.notice "accepted publickey for alice"
python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.sendto(bytes.fromhex("1234010000010000000000000474657374076578616d706c650000010001"), ("127.0.0.1", 53))'
sleep 1
kill "${pids[-1]}"
wait "${pids[-1]}" 2>/dev/null || true
echo "$out: $(stat -c %s "$out") bytes"
