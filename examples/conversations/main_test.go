package main

import (
	"bytes"
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flowscope-go/flowscope/internal/pcapgen"
)

// TestRun prints the sample's HTTP server's conversations: four
// connections, each request before its response, each ended.
func TestRun(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), "", 8080, &out); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	var uids []string
	for _, line := range strings.Split(got, "\n") {
		if uid, ok := strings.CutPrefix(line, "=== "); ok && strings.Contains(uid, " tcp ") {
			uids = append(uids, uid[:18])
		}
	}
	if len(uids) != 4 {
		t.Fatalf("%d conversations, want 4:\n%s", len(uids), got)
	}
	for _, uid := range uids {
		req, resp := strings.Index(got, "--- "+uid+" orig at offset 0"), strings.Index(got, "--- "+uid+" resp at offset 0")
		end := strings.Index(got, "=== "+uid+" ended: fin, SF")
		if req < 0 || resp < req || end < resp {
			t.Errorf("%s: request at %d, response at %d, end at %d:\n%s", uid, req, resp, end, got)
		}
	}
	if strings.Contains(got, ":53 ") {
		t.Errorf("a DNS connection is printed though only port 8080's were asked for")
	}
}

// TestGapMarker: a request segment the capture missed, acknowledged by
// the server, is marked where it is missing, and the response still
// comes after the whole request.
func TestGapMarker(t *testing.T) {
	cli, srv := netip.MustParseAddrPort("10.0.0.1:40000"), netip.MustParseAddrPort("10.0.0.2:80")
	t0 := time.Unix(1_700_000_000, 0)
	const A, P = pcapgen.ACK, pcapgen.PSH | pcapgen.ACK
	var pkts []pcapgen.Packet
	add := func(ms int, src, dst netip.AddrPort, seq, ack uint32, flags uint8, data string) {
		pkts = append(pkts, pcapgen.Packet{TS: t0.Add(time.Duration(ms) * time.Millisecond), Data: pcapgen.TCP(src, dst, seq, ack, flags, []byte(data))})
	}
	add(0, cli, srv, 100, 0, pcapgen.SYN, "")
	add(1, srv, cli, 500, 101, pcapgen.SYN|A, "")
	add(2, cli, srv, 101, 501, A, "")
	add(3, cli, srv, 101, 501, P, "GET /a HTTP/1.1\r\n")
	// "Host: x\r\n" (9 bytes) lost, then the end of the request.
	add(5, cli, srv, 127, 501, P, "\r\n")
	add(6, srv, cli, 501, 129, P, "HTTP/1.1 204 No Content\r\n\r\n")
	add(7, cli, srv, 129, 528, pcapgen.FIN|A, "")
	add(8, srv, cli, 528, 130, pcapgen.FIN|A, "")
	add(9, cli, srv, 130, 529, A, "")
	path := filepath.Join(t.TempDir(), "gap.pcap")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := pcapgen.WritePcap(f, pkts); err != nil {
		t.Fatal(err)
	}
	f.Close()
	var out bytes.Buffer
	if err := run(context.Background(), path, 0, &out); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	gap, resp := strings.Index(got, "orig: 9 bytes missing at offset 17"), strings.Index(got, "resp at offset 0")
	if gap < 0 || resp < gap || !strings.Contains(got, "GET /a HTTP/1.1") {
		t.Errorf("gap marker at %d, response at %d:\n%s", gap, resp, got)
	}
}
