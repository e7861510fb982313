//go:build linux

package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/flowscope-go/flowscope/internal/netns"
	"github.com/flowscope-go/flowscope/internal/syncbuf"
	"github.com/miekg/dns"
)

// servers starts, in namespace B, an HTTP server on port 80 (IPv4 and
// IPv6) and a DNS server on port 53 over UDP and TCP.
func servers(t *testing.T, p *netns.Pair) {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		io.WriteString(w, "hello\n")
	})
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		w.Write(bytes.Repeat([]byte("0123456789"), 10_000))
	})
	dnsMux := dns.NewServeMux()
	dnsMux.HandleFunc("example.test.", func(w dns.ResponseWriter, q *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(q)
		name := q.Question[0].Name
		switch {
		case name == "www.example.test." && q.Question[0].Qtype == dns.TypeA:
			rr, _ := dns.NewRR("www.example.test. 60 IN A 10.99.0.2")
			m.Answer = append(m.Answer, rr)
		case name == "txt.example.test.":
			rr, _ := dns.NewRR(`txt.example.test. 60 IN TXT "over tcp"`)
			m.Answer = append(m.Answer, rr)
		default:
			m.Rcode = dns.RcodeNameError
		}
		w.WriteMsg(m)
	})
	var closers []io.Closer
	err := p.Do(p.B, func() error {
		for _, addr := range []string{p.AddrB.String() + ":80", "[" + p.Addr6B.String() + "]:80"} {
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				return err
			}
			srv := &http.Server{Handler: mux}
			go srv.Serve(ln)
			closers = append(closers, srv)
		}
		pc, err := net.ListenPacket("udp", p.AddrB.String()+":53")
		if err != nil {
			return err
		}
		ln, err := net.Listen("tcp", p.AddrB.String()+":53")
		if err != nil {
			return err
		}
		for _, s := range []*dns.Server{{PacketConn: pc, Handler: dnsMux}, {Listener: ln, Handler: dnsMux}} {
			go s.ActivateAndServe()
			closers = append(closers, closerFunc(s.Shutdown))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, c := range closers {
			c.Close()
		}
	})
}

type closerFunc func() error

func (f closerFunc) Close() error { return f() }

// httpGets sends the requests over one connection and reads the
// responses; the connection is left open when keep is set.
func httpGets(conn net.Conn, host string, keep bool, paths ...string) error {
	br := bufio.NewReader(conn)
	for i, path := range paths {
		hdr := "Connection: keep-alive"
		if i == len(paths)-1 && !keep {
			hdr = "Connection: close"
		}
		fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: flowscope-test\r\n%s\r\n\r\n", path, host, hdr)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			return err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	if !keep {
		return conn.Close()
	}
	return nil
}

// TestLiveCapture runs the command on one end of a veth pair while a
// client in the other namespace talks HTTP (IPv4 and IPv6) and DNS (UDP
// and TCP) to real servers, stops it with a signal, and checks the
// records: the finished connections, the one still open (ended with
// reason shutdown), every HTTP exchange and DNS transaction.
func TestLiveCapture(t *testing.T) {
	p := netns.New(t)
	servers(t, p)

	var out, errOut syncbuf.Buffer
	sigs := make(chan os.Signal, 2)
	code := make(chan int, 1)
	go func() {
		runtime.LockOSThread() // the thread ends with the goroutine, still in B
		if err := netns.Enter(p.B); err != nil {
			t.Error(err)
			code <- -1
			return
		}
		code <- run(context.Background(), []string{"-i", p.IfB, "--workers", "2"}, &out, &errOut, sigs)
	}()
	time.Sleep(700 * time.Millisecond) // the sockets are open well before this

	var open net.Conn
	err := p.Do(p.A, func() error {
		b4 := p.AddrB.String()
		c1, err := net.Dial("tcp", b4+":80")
		if err != nil {
			return err
		}
		if err := httpGets(c1, b4, false, "/", "/big"); err != nil {
			return err
		}
		c2, err := net.Dial("tcp", b4+":80")
		if err != nil {
			return err
		}
		if err := httpGets(c2, b4, false, "/missing"); err != nil {
			return err
		}
		c3, err := net.Dial("tcp", "["+p.Addr6B.String()+"]:80")
		if err != nil {
			return err
		}
		if err := httpGets(c3, "["+p.Addr6B.String()+"]", false, "/"); err != nil {
			return err
		}
		if open, err = net.Dial("tcp", b4+":80"); err != nil {
			return err
		}
		if err := httpGets(open, b4, true, "/"); err != nil {
			return err
		}
		// DNS: two queries over UDP on one socket, one over TCP.
		u, err := net.Dial("udp", b4+":53")
		if err != nil {
			return err
		}
		defer u.Close()
		for _, q := range []struct {
			name string
			typ  uint16
		}{{"www.example.test.", dns.TypeA}, {"nothere.example.test.", dns.TypeA}} {
			if _, err := exchange(u, q.name, q.typ); err != nil {
				return err
			}
		}
		tc, err := net.Dial("tcp", b4+":53")
		if err != nil {
			return err
		}
		defer tc.Close()
		r, err := exchange(tc, "txt.example.test.", dns.TypeTXT)
		if err != nil {
			return err
		}
		if len(r.Answer) != 1 {
			return fmt.Errorf("TXT over TCP: %v", r)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer open.Close()
	time.Sleep(500 * time.Millisecond) // past the ring's block timeout
	sigs <- syscall.SIGINT
	select {
	case c := <-code:
		if c != 0 {
			t.Fatalf("exit %d: %s", c, errOut.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no exit 10 s after SIGINT")
	}
	if !strings.Contains(errOut.String(), "stopping") || !strings.Contains(errOut.String(), "dropped by the kernel") {
		t.Errorf("stderr: %q", errOut.String())
	}

	var conns, https, dnss []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("not JSON: %q", line)
		}
		switch rec["_path"] {
		case "conn":
			conns = append(conns, rec)
		case "http":
			https = append(https, rec)
		case "dns":
			dnss = append(dnss, rec)
		}
	}
	// Connections to port 80: three closed (SF), one open at the stop.
	states := map[string]int{}
	for _, c := range conns {
		if c["id.resp_p"] == 80.0 {
			states[fmt.Sprint(c["conn_state"], " ", c["end_reason"])]++
		}
	}
	if states["SF fin"] != 3 || states["S1 shutdown"] != 1 || len(states) != 2 {
		t.Errorf("port 80 connections by state and end reason: %v, want 3 SF fin and 1 S1 shutdown", states)
	}
	byURI := map[string]string{}
	for _, h := range https {
		byURI[fmt.Sprint(h["id.resp_h"], " ", h["uri"])] = fmt.Sprint(h["status_code"], " ", h["response_body_len"])
	}
	want := map[string]string{
		"10.99.0.2 /": "200 6", "10.99.0.2 /big": "200 100000", "10.99.0.2 /missing": "404 19", "fd99::2 /": "200 6",
	}
	for k, v := range want {
		if byURI[k] != v {
			t.Errorf("http %s: status and body length %q, want %q (all: %v)", k, byURI[k], v, byURI)
		}
	}
	if len(https) != 5 {
		t.Errorf("%d http records, want 5 (the open connection's GET / too)", len(https))
	}
	dnsSeen := map[string]string{}
	for _, d := range dnss {
		dnsSeen[fmt.Sprint(d["proto"], " ", d["query"])] = fmt.Sprint(d["rcode_name"], " ", d["answers"])
	}
	for k, v := range map[string]string{
		"udp www.example.test":     "NOERROR [10.99.0.2]",
		"udp nothere.example.test": "NXDOMAIN <nil>",
		"tcp txt.example.test":     `NOERROR ["over tcp"]`,
	} {
		if dnsSeen[k] != v {
			t.Errorf("dns %s: %q, want %q (all: %v)", k, dnsSeen[k], v, dnsSeen)
		}
	}
}

func exchange(c net.Conn, name string, typ uint16) (*dns.Msg, error) {
	q := new(dns.Msg)
	q.SetQuestion(name, typ)
	co := &dns.Conn{Conn: c}
	c.SetDeadline(time.Now().Add(3 * time.Second))
	if err := co.WriteMsg(q); err != nil {
		return nil, err
	}
	return co.ReadMsg()
}
