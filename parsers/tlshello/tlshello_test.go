package tlshello_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"math/big"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flowscope-go/flowscope"
	"github.com/flowscope-go/flowscope/internal/hostile"
	"github.com/flowscope-go/flowscope/parsers/parsertest"
	"github.com/flowscope-go/flowscope/parsers/tlshello"
)

// recorder keeps what crosses one direction of a connection.
type recorder struct {
	net.Conn
	mu   *sync.Mutex
	conv *parsertest.Conversation
	side flowscope.Side
}

func (r recorder) Write(b []byte) (int, error) {
	r.mu.Lock()
	*r.conv = append(*r.conv, parsertest.Piece{Side: r.side, Data: append([]byte(nil), b...)})
	r.mu.Unlock()
	return r.Conn.Write(b)
}

// handshake runs crypto/tls's client and server against each other over
// an in-memory pipe and returns the bytes each sent, in order: a real TLS
// handshake, as a capture of it would be reassembled.
func handshake(t testing.TB, maxVersion uint16, alpn []string, sni string) parsertest.Conversation {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "flowscope.test"},
		DNSNames: []string{"flowscope.test"}, NotBefore: time.Unix(1_700_000_000, 0), NotAfter: time.Unix(1_900_000_000, 0)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert := tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	c, s := net.Pipe()
	var mu sync.Mutex
	var conv parsertest.Conversation
	client := tls.Client(recorder{c, &mu, &conv, flowscope.Orig}, &tls.Config{
		ServerName: sni, InsecureSkipVerify: true, NextProtos: alpn, MaxVersion: maxVersion,
	})
	server := tls.Server(recorder{s, &mu, &conv, flowscope.Resp}, &tls.Config{
		Certificates: []tls.Certificate{cert}, NextProtos: alpn, MaxVersion: maxVersion,
	})
	done := make(chan error, 1)
	go func() {
		err := server.Handshake()
		if err == nil {
			_, err = io.Copy(io.Discard, server)
		}
		done <- err
	}()
	if err := client.Handshake(); err != nil {
		t.Fatal(err)
	}
	if _, err := client.Write([]byte("GET / HTTP/1.1\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	client.Close()
	<-done
	return conv
}

func render(h *tlshello.Handshake) string {
	var b strings.Builder
	if c := h.Client; c != nil {
		fmt.Fprintf(&b, "C %s %v %x ja4=%s", c.SNI, c.ALPN, c.Versions, c.JA4())
	}
	if s := h.Server; s != nil {
		fmt.Fprintf(&b, " S %s %s %q", tlshello.VersionName(h.Version()), tlshello.CipherName(s.Cipher), s.ALPN)
	}
	for _, c := range h.Certs {
		fmt.Fprintf(&b, " cert=%s %s", c.SHA256[:12], c.Subject)
	}
	fmt.Fprintf(&b, " hist=%s est=%v", h.History, h.Established)
	return b.String()
}

func run(conv parsertest.Conversation) []*tlshello.Handshake {
	p := tlshello.Parser{}.NewSession(nil)
	var out []*tlshello.Handshake
	for i, piece := range conv {
		out = p.Data(piece.Side, piece.Data, int64(i), out)
	}
	return p.End(&flowscope.FlowRecord{}, out)
}

func TestHandshakes(t *testing.T) {
	t13 := run(handshake(t, tls.VersionTLS13, []string{"h2", "http/1.1"}, "flowscope.test"))
	if len(t13) != 1 {
		t.Fatalf("%d handshakes, want 1", len(t13))
	}
	h := t13[0]
	if h.Client.SNI != "flowscope.test" || strings.Join(h.Client.ALPN, ",") != "h2,http/1.1" ||
		h.Version() != tls.VersionTLS13 || h.Server.ALPN != "" || !h.Established {
		t.Errorf("TLS 1.3: %s", render(h))
	}
	if !strings.HasPrefix(h.Client.JA4(), "t13d") {
		t.Errorf("JA4 %s", h.Client.JA4())
	}
	t12 := run(handshake(t, tls.VersionTLS12, []string{"h2"}, "flowscope.test"))
	if len(t12) != 1 {
		t.Fatalf("%d handshakes, want 1", len(t12))
	}
	h = t12[0]
	if h.Version() != tls.VersionTLS12 || h.Server.ALPN != "h2" || len(h.Certs) != 1 ||
		h.Certs[0].Subject != "CN=flowscope.test" || !h.Established {
		t.Errorf("TLS 1.2: %s", render(h))
	}
	if !strings.Contains(h.History, "C") || !strings.Contains(h.History, "s") || !strings.Contains(h.History, "x") {
		t.Errorf("TLS 1.2 history %q", h.History)
	}
	if text, sum := h.Server.JA3S(); !strings.HasPrefix(text, "771,") || len(sum) != 32 {
		t.Errorf("JA3S %s %s", text, sum)
	}
}

func TestNotTLS(t *testing.T) {
	p := tlshello.Parser{}.NewSession(nil)
	p.Data(flowscope.Orig, []byte("GET / HTTP/1.1\r\n\r\n"), 0, nil)
	if _, poisoned := p.(poisoner).Poisoned(); !poisoned {
		t.Error("HTTP was taken for TLS")
	}
}

func TestParserKit(t *testing.T) {
	convs := []parsertest.Conversation{
		handshake(t, tls.VersionTLS13, []string{"h2"}, "a.test"),
		handshake(t, tls.VersionTLS12, nil, "b.test"),
	}
	parsertest.Run(t, tlshello.Parser{}, convs, render)
}

func FuzzParser(f *testing.F) {
	for _, conv := range []parsertest.Conversation{
		handshake(f, tls.VersionTLS13, []string{"h2", "http/1.1"}, "seed.test"),
		handshake(f, tls.VersionTLS12, []string{"http/1.1"}, "seed12.test"),
	} {
		var o, r []byte
		for _, p := range conv {
			if p.Side == flowscope.Orig {
				o = append(o, p.Data...)
			} else {
				r = append(r, p.Data...)
			}
		}
		f.Add(o, r, uint8(40))
	}
	f.Fuzz(func(t *testing.T, orig, resp []byte, cut uint8) {
		// Fed whole, and fed until the session says it is done, as the
		// tracker feeds it: the handshakes must be the same.
		feed := func(untilDone bool) []*tlshello.Handshake {
			p := tlshello.Parser{}.NewSession(nil)
			step := int(cut%200) + 1
			var out []*tlshello.Handshake
			for i := 0; i < max(len(orig), len(resp)); i += step {
				if untilDone && p.(flowscope.Doner).Done() {
					break
				}
				if i < len(orig) {
					out = p.Data(flowscope.Orig, orig[i:min(i+step, len(orig))], 0, out)
				}
				if i < len(resp) && !(untilDone && p.(flowscope.Doner).Done()) {
					out = p.Data(flowscope.Resp, resp[i:min(i+step, len(resp))], 0, out)
				}
			}
			return p.End(&flowscope.FlowRecord{}, out)
		}
		whole := feed(false)
		for _, h := range whole {
			if h.Client == nil && h.Server == nil {
				t.Fatal("empty handshake")
			}
			if h.Client != nil {
				_, _ = h.Client.JA3()
				_ = h.Client.JA4()
			}
		}
		done := feed(true)
		if len(done) != len(whole) {
			t.Fatalf("%d handshakes fed until done, %d fed whole", len(done), len(whole))
		}
		for i := range whole {
			if a, b := render(done[i]), render(whole[i]); a != b {
				t.Fatalf("fed until done:\n%s\nfed whole:\n%s", a, b)
			}
		}
		_ = bytes.MinRead
	})
}

// BenchmarkHandshake parses a whole TLS 1.3 handshake made by crypto/tls
// (client hello, server hello and what follows) per iteration.
func BenchmarkHandshake(b *testing.B) {
	conv := handshake(b, tls.VersionTLS13, []string{"h2", "http/1.1"}, "bench.test")
	b.ReportAllocs()
	for b.Loop() {
		if hs := run(conv); len(hs) != 1 {
			b.Fatalf("%d handshakes", len(hs))
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "handshakes/s")
}

// BenchmarkJA4 computes the JA4 of a browser-like ClientHello.
func BenchmarkJA4(b *testing.B) {
	conv := handshake(b, tls.VersionTLS13, []string{"h2", "http/1.1"}, "bench.test")
	c := run(conv)[0].Client
	b.ReportAllocs()
	for b.Loop() {
		_ = c.JA4()
	}
}

// TestDoneOnceEncrypted: a session is done once both sides have gone
// encrypted, and not before the server's hello; what it emits then is
// what it emits when fed the rest.
func TestDoneOnceEncrypted(t *testing.T) {
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		conv := handshake(t, v, []string{"h2"}, "flowscope.test")
		p := tlshello.Parser{}.NewSession(nil)
		var out []*tlshello.Handshake
		at := -1
		for i, piece := range conv {
			out = p.Data(piece.Side, piece.Data, int64(i), out)
			if p.(flowscope.Doner).Done() {
				at = i
				break
			}
		}
		out = p.End(&flowscope.FlowRecord{}, out)
		full := run(conv)
		if at < 0 {
			t.Fatalf("version %x: not done after the whole conversation (%d pieces)", v, len(conv))
		}
		if at < 1 || len(out) != 1 || len(full) != 1 || render(out[0]) != render(full[0]) {
			t.Errorf("version %x: done after piece %d of %d: %d handshakes, want the one fed whole: %v", v, at, len(conv), len(out), full)
		}
	}
}

// TestDoneAfterGap: with any one piece lost to a gap (the framing of
// that side lost with it), a session fed until it is done emits what one
// fed everything does.
func TestDoneAfterGap(t *testing.T) {
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		conv := handshake(t, v, nil, "flowscope.test")
		for k := range conv {
			feed := func(untilDone bool) string {
				p := tlshello.Parser{}.NewSession(nil)
				var out []*tlshello.Handshake
				for i, piece := range conv {
					if untilDone && p.(flowscope.Doner).Done() {
						break
					}
					if i == k {
						out = p.Gap(piece.Side, uint64(len(piece.Data)), int64(i), out)
						continue
					}
					out = p.Data(piece.Side, piece.Data, int64(i), out)
				}
				var b strings.Builder
				for _, h := range p.End(&flowscope.FlowRecord{}, out) {
					b.WriteString(render(h) + "\n")
				}
				return b.String()
			}
			if got, want := feed(true), feed(false); got != want {
				t.Errorf("version %x, piece %d of %d lost: fed until done\n%swant\n%s", v, k, len(conv), got, want)
			}
		}
	}
}

// poisoner is what the session's Poisoned method gives: whether, and
// why, it gave up on the connection.
type poisoner interface{ Poisoned() (string, bool) }

// TestBounds: what a peer repeats is kept up to the parser's bounds, and
// the record says what was cut.
func TestBounds(t *testing.T) {
	hello := hostile.Records(22, hostile.ClientHello("b.example"), 16384)
	var server []byte
	server = append(server, hostile.Records(22, hostile.ServerHello(), 16384)...)
	// Certificate messages of one 3-byte "certificate" each, more than
	// MaxCerts of them, then alerts past MaxAlerts.
	cert := []byte{11, 0, 0, 9, 0, 0, 6, 0, 0, 3, 1, 2, 3}
	for range tlshello.MaxCerts + 4 {
		server = append(server, hostile.Records(22, cert, 16384)...)
	}
	for range tlshello.MaxAlerts + 4 {
		server = append(server, hostile.Records(21, []byte{1, 0}, 2)...)
	}
	s := tlshello.Parser{}.NewSession(nil)
	out := s.Data(flowscope.Orig, hello, 1, nil)
	out = s.Data(flowscope.Resp, server, 2, out)
	out = s.End(&flowscope.FlowRecord{}, out)
	if len(out) != 1 {
		t.Fatalf("%d handshakes", len(out))
	}
	h := out[0]
	if len(h.Certs) != tlshello.MaxCerts || len(h.Alerts) != tlshello.MaxAlerts || len(h.History) > tlshello.MaxHistory {
		t.Errorf("%d certs, %d alerts, history %q", len(h.Certs), len(h.Alerts), h.History)
	}
	for _, want := range []string{tlshello.TruncCerts, tlshello.TruncAlerts} {
		if !slices.Contains(h.Truncated, want) {
			t.Errorf("truncated %v, want %s in it", h.Truncated, want)
		}
	}
}
