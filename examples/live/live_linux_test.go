//go:build linux

package main

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/flowscope-go/flowscope/internal/netns"
	"github.com/flowscope-go/flowscope/internal/syncbuf"
	"github.com/flowscope-go/flowscope/source"
	"github.com/miekg/dns"
)

// TestCapture captures between two network namespaces (root only; it
// skips otherwise, and fails in CI without them): a DNS query that is
// answered and an HTTP exchange, then a stop, which ends the flows still
// open as shutdown and writes them with their protocol records.
func TestCapture(t *testing.T) {
	p := netns.New(t)
	var lives []*source.Live
	if err := p.Do(p.B, func() error {
		var err error
		lives, err = source.OpenLive(source.LiveConfig{Interface: p.IfB, Sockets: 2, Tick: 100 * time.Millisecond})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	for _, l := range lives {
		defer l.Close()
	}
	var out syncbuf.Buffer
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- capture(ctx, lives, &out) }()

	// Servers in B, clients in A.
	var dnsLn net.PacketConn
	var tcpLn net.Listener
	if err := p.Do(p.B, func() error {
		var err error
		if dnsLn, err = net.ListenPacket("udp", p.AddrB.String()+":53"); err != nil {
			return err
		}
		tcpLn, err = net.Listen("tcp", p.AddrB.String()+":80")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer dnsLn.Close()
	defer tcpLn.Close()
	go func() {
		buf := make([]byte, 512)
		n, from, err := dnsLn.ReadFrom(buf)
		if err != nil {
			return
		}
		var q dns.Msg
		if q.Unpack(buf[:n]) == nil {
			r := new(dns.Msg)
			r.SetReply(&q)
			r.Answer = append(r.Answer, &dns.A{Hdr: dns.RR_Header{Name: q.Question[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60}, A: net.IPv4(192, 0, 2, 7)})
			b, _ := r.Pack()
			dnsLn.WriteTo(b, from)
		}
	}()
	go func() {
		c, err := tcpLn.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		buf := make([]byte, 1024)
		c.Read(buf)
		c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"))
		c.Read(buf) // the client closes
	}()
	time.Sleep(300 * time.Millisecond)
	if err := p.Do(p.A, func() error {
		c, err := net.Dial("udp", p.AddrB.String()+":53")
		if err != nil {
			return err
		}
		q := new(dns.Msg)
		q.SetQuestion("live.example.test.", dns.TypeA)
		b, _ := q.Pack()
		c.Write(b)
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		c.Read(make([]byte, 512))
		c.Close()
		h, err := net.Dial("tcp", p.AddrB.String()+":80")
		if err != nil {
			return err
		}
		h.Write([]byte("GET /live HTTP/1.1\r\nHost: b\r\n\r\n"))
		h.SetReadDeadline(time.Now().Add(2 * time.Second))
		h.Read(make([]byte, 1024))
		return h.Close()
	}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	stop()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the capture did not end after the stop")
	}
	got := out.String()
	for _, want := range []string{`"query":"live.example.test"`, `"answers":["192.0.2.7"]`, `"uri":"/live"`, `"status_code":200`,
		`"end_reason":"shutdown"`, `"_path":"conn"`} {
		if !strings.Contains(got, want) {
			t.Errorf("no %s in the output:\n%s", want, got)
		}
	}
}
