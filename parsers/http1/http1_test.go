package http1_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/flowscope-go/flowscope"
	"github.com/flowscope-go/flowscope/flowkey"
	"github.com/flowscope-go/flowscope/parsers/http1"
)

// feed is one piece of a conversation: bytes of a side, or a gap.
type feed struct {
	side flowscope.Side
	data string
	gap  uint64
}

const O, R = flowscope.Orig, flowscope.Resp

func run(t *testing.T, feeds []feed) []*http1.Transaction {
	t.Helper()
	p := http1.Parser{}.NewSession(nil)
	var out []*http1.Transaction
	for i, f := range feeds {
		if f.gap > 0 {
			out = p.Gap(f.side, f.gap, int64(i), out)
		} else {
			out = p.Data(f.side, []byte(f.data), int64(i), out)
		}
	}
	return p.End(&flowscope.FlowRecord{}, out)
}

// summary renders transactions compactly for comparisons.
func summary(txs []*http1.Transaction) string {
	var b strings.Builder
	for _, tx := range txs {
		if r := tx.Request; r != nil {
			host, _ := r.Header("Host")
			b.WriteString(r.Method + " " + r.Target + " " + host + " req" + itoa(int(r.BodyLen)))
		} else {
			b.WriteString("-")
		}
		b.WriteString(" -> ")
		if r := tx.Response; r != nil {
			b.WriteString(itoa(r.Status) + " resp" + itoa(int(r.BodyLen)))
		} else {
			b.WriteString("-")
		}
		for _, i := range tx.Interim {
			b.WriteString(" +" + itoa(i.Status))
		}
		for _, f := range tx.Flags.Names() {
			b.WriteString(" !" + f)
		}
		b.WriteString("\n")
	}
	return b.String()
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestHTTP(t *testing.T) {
	get := "GET /a HTTP/1.1\r\nHost: example.com\r\nUser-Agent: test\r\n\r\n"
	ok := "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
	cases := []struct {
		name  string
		feeds []feed
		want  string
	}{
		{"keep-alive", []feed{{O, get, 0}, {R, ok, 0}, {O, get, 0}, {R, ok, 0}},
			"GET /a example.com req0 -> 200 resp5\nGET /a example.com req0 -> 200 resp5\n"},
		{"pipelined", []feed{{O, get + get + get, 0}, {R, ok + ok, 0}, {R, ok, 0}},
			strings.Repeat("GET /a example.com req0 -> 200 resp5\n", 3)},
		{"chunked with trailers", []feed{{O, get, 0},
			{R, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\n", 0}},
			"GET /a example.com req0 -> 200 resp11\n"},
		{"HEAD has no body", []feed{{O, "HEAD /a HTTP/1.1\r\nHost: h\r\n\r\n", 0}, {R, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n", 0}, {O, get, 0}, {R, ok, 0}},
			"HEAD /a h req0 -> 200 resp0\nGET /a example.com req0 -> 200 resp5\n"},
		{"204 and 304", []feed{{O, get + get, 0}, {R, "HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n", 0}},
			"GET /a example.com req0 -> 204 resp0\nGET /a example.com req0 -> 304 resp0\n"},
		{"100 continue", []feed{{O, "POST /u HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n", 0},
			{R, "HTTP/1.1 100 Continue\r\n\r\n", 0}, {O, "data", 0}, {R, ok, 0}},
			"POST /u h req4 -> 200 resp5 +100\n"},
		{"body until close", []feed{{O, "GET / HTTP/1.0\r\n\r\n", 0}, {R, "HTTP/1.0 200 OK\r\n\r\nabc", 0}, {R, "defg", 0}},
			"GET /  req0 -> 200 resp7\n"},
		{"split byte by byte", bytewise([]feed{{O, get, 0}, {R, ok, 0}}),
			"GET /a example.com req0 -> 200 resp5\n"},
		{"CONNECT tunnel", []feed{{O, "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", 0},
			{R, "HTTP/1.1 200 Connection established\r\n\r\n", 0}, {O, "\x16\x03\x01binary", 0}, {R, "\x16\x03\x03more", 0}},
			"CONNECT example.com:443 example.com:443 req0 -> 200 resp0 !tunnel\n"},
		{"upgrade", []feed{{O, "GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n\r\n", 0},
			{R, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n", 0}, {O, "\x81\x05hello", 0}},
			"GET /ws h req0 -> 101 resp0 !tunnel\n"},
		{"response without request (mid-stream)", []feed{{R, "tail of a body\r\n" + ok, 0}},
			"- -> 200 resp5\n"},
		{"unanswered request", []feed{{O, get, 0}},
			"GET /a example.com req0 -> -\n"},
		{"gap in a body keeps framing", []feed{{O, get, 0}, {R, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nab", 0}, {R, "", 5}, {R, "cde", 0}, {O, get, 0}, {R, ok, 0}},
			"GET /a example.com req0 -> 200 resp5 !incomplete\nGET /a example.com req0 -> 200 resp5\n"},
		{"gap in headers resyncs", []feed{{O, "GET /a HTTP/1.1\r\nHo", 0}, {O, "", 100}, {O, "st: x\r\n\r\n" + get, 0}, {R, ok, 0}},
			"GET /a example.com req0 -> 200 resp5\n"},
		{"smuggling CL and TE", []feed{{O, "POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 0}, {R, ok, 0}},
			"POST /  req0 -> 200 resp5 !smuggling_cl_te\n"},
		// RFC 9112 §6.3: lengths that disagree are unrecoverable: no body
		// is read, and a server closes after the request.
		{"duplicate content lengths", []feed{{O, "POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabc", 0}, {R, ok, 0}},
			"POST /  req0 -> 200 resp5 !smuggling_cl_cl\n"},
		{"obs-fold", []feed{{O, "GET / HTTP/1.1\r\nHost: a\r\nX-Long: one\r\n two\r\n\r\n", 0}, {R, ok, 0}},
			"GET / a req0 -> 200 resp5 !obs_fold\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := summary(run(t, c.feeds)); got != c.want {
				t.Errorf("got\n%swant\n%s", got, c.want)
			}
		})
	}
}

func bytewise(feeds []feed) []feed {
	var out []feed
	for _, f := range feeds {
		for i := range len(f.data) {
			out = append(out, feed{f.side, f.data[i : i+1], 0})
		}
	}
	return out
}

func TestNotHTTPIsPoisoned(t *testing.T) {
	p := http1.Parser{}.NewSession(nil)
	junk := strings.Repeat("\x00\x01binary protocol\n", 2000)
	p.Data(O, []byte(junk), 0, nil)
	p.Data(R, []byte(junk), 0, nil)
	reason, poisoned := p.(poisoner).Poisoned()
	if !poisoned || reason == "" {
		t.Fatal("a binary protocol was not given up on")
	}
}

func TestHeaderBounds(t *testing.T) {
	p := http1.Parser{MaxHeaders: 3, MaxHeaderBytes: 200}.NewSession(nil)
	var out []*http1.Transaction
	out = p.Data(O, []byte("GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n"), 0, out)
	out = p.Data(O, []byte("GET /big HTTP/1.1\r\nX: "+strings.Repeat("y", 500)+"\r\n\r\nGET /next HTTP/1.1\r\n\r\n"), 0, out)
	out = p.End(&flowscope.FlowRecord{}, out)
	if len(out) != 2 || len(out[0].Request.Headers) != 3 || out[0].Request.DroppedHeaders != 1 || out[1].Request.Target != "/next" {
		t.Errorf("got %s", summary(out))
	}
}

// TestNoAllocationWithoutMessages: feeding body bytes, which complete no
// message, allocates nothing.
func TestNoAllocationWithoutMessages(t *testing.T) {
	p := http1.Parser{}.NewSession(&flowscope.Conn{})
	out := make([]*http1.Transaction, 0, 4)
	out = p.Data(O, []byte("GET /big HTTP/1.1\r\nHost: h\r\n\r\n"), 0, out[:0])
	out = p.Data(R, []byte("HTTP/1.1 200 OK\r\nContent-Length: 100000000\r\n\r\n"), 0, out[:0])
	chunk := make([]byte, 1448)
	if n := testing.AllocsPerRun(1000, func() { out = p.Data(R, chunk, 0, out[:0]) }); n != 0 || len(out) != 0 {
		t.Errorf("a body chunk costs %v allocations (%d messages), want 0", n, len(out))
	}
}

func TestBodyCapture(t *testing.T) {
	p := http1.Parser{MaxBodyCapture: 8}.NewSession(&flowscope.Conn{})
	var out []*http1.Transaction
	out = p.Data(O, []byte("POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nab"), 0, out)
	out = p.Data(O, []byte("cde"), 0, out)
	out = p.Data(R, []byte("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"), 0, out)
	if len(out) != 1 || string(out[0].Request.Body) != "abcde" || string(out[0].Response.Body) != "hello wo" || out[0].Response.BodyLen != 11 {
		t.Fatalf("bodies %q / %q", out[0].Request.Body, out[0].Response.Body)
	}
}

// TestStreamStart: on a connection seen from its SYN the client's first
// bytes are its stream's first, and bytes that cannot start a request
// give the client side up at once; the server's side is then HTTP only
// if it starts with a status line. Without the SYN, or after a gap, the
// search for a message start goes on as before.
func TestStreamStart(t *testing.T) {
	const hello = "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"
	const req = "GET /a HTTP/1.1\r\nHost: h\r\n\r\n"
	const resp = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
	fromSYN := &flowscope.Conn{Proto: flowkey.ProtoTCP, History: flowscope.HistoryOf("S")}
	midway := &flowscope.Conn{Proto: flowkey.ProtoTCP, History: flowscope.HistoryOf("D")}
	for _, tc := range []struct {
		name     string
		rec      *flowscope.Conn
		feeds    []feed
		poisoned bool // right after the feeds
		want     string
	}{
		{"TLS from the SYN", fromSYN, []feed{{O, hello, 0}, {R, "\x16\x03\x03\x00\x5a\x02", 0}}, true, ""},
		{"TLS from the SYN, server silent", fromSYN, []feed{{O, hello, 0}}, false, ""},
		{"binary client, HTTP server", fromSYN, []feed{{O, hello, 0}, {R, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n", 0}}, false, "- -> 400 resp0\n"},
		{"binary client, status line cut", fromSYN, []feed{{O, hello, 0}, {R, "HT", 0}, {R, "TP/1.0 400 Bad\r\n\r\n", 0}}, false, "- -> 400 resp0\n"},
		{"binary client after a gap", fromSYN, []feed{{O, "", 3}, {O, hello + "\n" + req, 0}, {R, resp, 0}}, false, "GET /a h req0 -> 200 resp0\n"},
		{"binary client mid-stream", midway, []feed{{O, hello + "\n" + req, 0}, {R, resp, 0}}, false, "GET /a h req0 -> 200 resp0\n"},
		{"text preamble", fromSYN, []feed{{O, "PROXY TCP4 10.0.0.1 10.0.0.2 4000 80\r\n" + req, 0}, {R, resp, 0}}, false, "GET /a h req0 -> 200 resp0\n"},
		{"blank lines first", fromSYN, []feed{{O, "\r\n" + req, 0}, {R, resp, 0}}, false, "GET /a h req0 -> 200 resp0\n"},
		{"request a byte at a time", fromSYN, bytewise([]feed{{O, req, 0}, {R, resp, 0}}), false, "GET /a h req0 -> 200 resp0\n"},
		{"server first", fromSYN, []feed{{R, "220 ready\r\n", 0}, {O, hello, 0}}, false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := http1.Parser{}.NewSession(tc.rec)
			var out []*http1.Transaction
			for i, f := range tc.feeds {
				if f.gap > 0 {
					out = p.Gap(f.side, f.gap, int64(i), out)
				} else {
					out = p.Data(f.side, []byte(f.data), int64(i), out)
				}
			}
			if reason, poisoned := p.(poisoner).Poisoned(); poisoned != tc.poisoned {
				t.Errorf("poisoned %v (%q), want %v", poisoned, reason, tc.poisoned)
			}
			out = p.End(&flowscope.FlowRecord{}, out)
			if got := summary(out); got != tc.want {
				t.Errorf("got\n%swant\n%s", got, tc.want)
			}
		})
	}
}

// TestDoneInTunnel: once both sides are tunnelled (an accepted CONNECT)
// or given up, the session reads nothing more and says so; a session
// still parsing does not.
func TestDoneInTunnel(t *testing.T) {
	p := http1.Parser{}.NewSession(nil)
	done := func() bool { return p.(flowscope.Doner).Done() }
	out := p.Data(O, []byte("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"), 0, nil)
	if done() {
		t.Fatal("done while the CONNECT waits for its answer")
	}
	out = p.Data(R, []byte("HTTP/1.1 200 Connection established\r\n\r\n"), 1, out)
	if !done() {
		t.Fatal("not done once the tunnel is up")
	}
	out = p.End(&flowscope.FlowRecord{}, out)
	if got := summary(out); got != "CONNECT example.com:443 example.com:443 req0 -> 200 resp0 !tunnel\n" {
		t.Errorf("got %s", got)
	}

	q := http1.Parser{}.NewSession(nil)
	q.Data(O, []byte("GET / HTTP/1.1\r\n\r\n"), 0, nil)
	q.Data(R, []byte("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx"), 1, nil)
	if q.(flowscope.Doner).Done() {
		t.Error("a keep-alive connection is done after one exchange")
	}
}

// poisoner is what the session's Poisoned method gives: whether, and
// why, it gave up on the connection.
type poisoner interface{ Poisoned() (string, bool) }

// TestPendingBound: requests beyond MaxPending are reported unanswered
// as they are pushed out, and the responses that come for them later are
// reported alone, so that every later response still pairs with its own
// request.
func TestPendingBound(t *testing.T) {
	const n, bound = 300, 256
	var reqs, resps strings.Builder
	for i := range n {
		reqs.WriteString("GET /" + itoa(i) + " HTTP/1.1\r\nHost: h\r\n\r\n")
		resps.WriteString("HTTP/1.1 200 OK\r\nX-N: " + itoa(i) + "\r\nContent-Length: 0\r\n\r\n")
	}
	txs := run(t, []feed{{side: O, data: reqs.String()}, {side: R, data: resps.String()}})
	if len(txs) != n+(n-bound) {
		t.Fatalf("%d transactions, want %d", len(txs), n+(n-bound))
	}
	for i, tx := range txs {
		switch {
		case i < n-bound: // pushed out unanswered
			if tx.Request == nil || tx.Request.Target != "/"+itoa(i) || tx.Response != nil || tx.Flags&http1.Evicted == 0 || tx.Depth != i+1 {
				t.Fatalf("transaction %d: %s", i, summary(txs[i:i+1]))
			}
		case i < 2*(n-bound): // their responses, alone
			k := i - (n - bound)
			if v, _ := tx.Response.Header("X-N"); tx.Request != nil || v != itoa(k) || tx.Flags&http1.Evicted == 0 || tx.Depth != k+1 {
				t.Fatalf("transaction %d: %s (X-N %s, depth %d)", i, summary(txs[i:i+1]), v, tx.Depth)
			}
		default:
			k := i - (n - bound)
			if v, _ := tx.Response.Header("X-N"); tx.Request == nil || tx.Request.Target != "/"+itoa(k) || v != itoa(k) || tx.Flags != 0 || tx.Depth != k+1 {
				t.Fatalf("transaction %d: %s (X-N %s)", i, summary(txs[i:i+1]), v)
			}
		}
	}
}

// TestObsFoldJoined: continuation lines join their header with single
// spaces, and folds of a header dropped by MaxHeaders are dropped with it.
func TestObsFoldJoined(t *testing.T) {
	head := "GET / HTTP/1.1\r\nA: one\r\n two\r\n\tthree \r\nB: b\r\n"
	for i := range http1.DefaultMaxHeaders {
		head += "H" + itoa(i) + ": x\r\n"
	}
	head += "Dropped: d\r\n fold\r\n\r\n"
	txs := run(t, []feed{{side: O, data: head}})
	if len(txs) != 1 {
		t.Fatalf("%d transactions", len(txs))
	}
	m := txs[0].Request
	if v, _ := m.Header("A"); v != "one two three" {
		t.Errorf("A = %q, want %q", v, "one two three")
	}
	if v, _ := m.Header("B"); v != "b" {
		t.Errorf("B = %q", v)
	}
	if last := m.Headers[len(m.Headers)-1]; last.Value != "x" || m.DroppedHeaders != 3 || m.Flags&http1.ObsFold == 0 {
		t.Errorf("last kept header %+v, %d dropped, flags %v", last, m.DroppedHeaders, m.Flags.Names())
	}
}

// TestHTTP2PriorKnowledge: the HTTP/2 connection preface is not an
// HTTP/1 request; the connection is given up, saying why.
func TestHTTP2PriorKnowledge(t *testing.T) {
	p := http1.Parser{}.NewSession(nil)
	out := p.Data(O, []byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x12\x04\x00\x00\x00\x00\x00"), 1, nil)
	out = p.Data(R, []byte("\x00\x00\x00\x04\x01\x00\x00\x00\x00"), 2, out)
	out = p.End(&flowscope.FlowRecord{}, out)
	if len(out) != 0 {
		t.Errorf("%d transactions from an HTTP/2 connection: %s", len(out), summary(out))
	}
	why, poisoned := p.(interface{ Poisoned() (string, bool) }).Poisoned()
	if !poisoned || !strings.Contains(why, "HTTP/2") {
		t.Errorf("poisoned %v (%q), want given up as HTTP/2", poisoned, why)
	}
}

// TestFramingRules holds the framing to RFC 9112 where a message's
// length is in doubt: each case names its section. What a strict
// recipient rejects is still reported, flagged, and the bytes after it
// are framed as that recipient would (here: not at all, it closes).
func TestFramingRules(t *testing.T) {
	const ok = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
	hidden := "GET /hidden HTTP/1.1\r\nHost: h\r\n\r\n"
	cases := []struct {
		name, section string
		feeds         []feed
		want          string
	}{
		{"content-length with a sign", "RFC 9110 §8.6: digits only; RFC 9112 §6.3: unrecoverable",
			[]feed{{O, "POST / HTTP/1.1\r\nContent-Length: +5\r\n\r\nabcde" + hidden, 0}, {R, ok, 0}},
			"POST /  req0 -> 200 resp5 !bad_framing\n"},
		{"content-length with leading zeros", "RFC 9110 §8.6: 1*DIGIT, any number",
			[]feed{{O, "POST / HTTP/1.1\r\nContent-Length: 0000000000000000005\r\n\r\nabcde", 0}, {R, ok, 0}},
			"POST /  req5 -> 200 resp5\n"},
		{"content-length list of equal values", "RFC 9112 §6.3 rule 5: taken as the one value",
			[]feed{{O, "POST / HTTP/1.1\r\nContent-Length: 5, 5\r\n\r\nabcde", 0}, {R, ok, 0}},
			"POST /  req5 -> 200 resp5\n"},
		{"content-length list of different values", "RFC 9112 §6.3 rule 5: unrecoverable",
			[]feed{{O, "POST / HTTP/1.1\r\nContent-Length: 5, 6\r\n\r\nabcde" + hidden, 0}, {R, ok, 0}},
			"POST /  req0 -> 200 resp5 !smuggling_cl_cl\n"},
		{"chunked then identity", "RFC 9110 §5.3, RFC 9112 §6.3: chunked not final, a request's length unknown",
			[]feed{{O, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n5\r\nabcde\r\n0\r\n\r\n" + hidden, 0}, {R, ok, 0}},
			"POST /  req0 -> 200 resp5 !chunked_not_final !unknown_coding\n"},
		{"chunked not final in a response", "RFC 9112 §6.3: read to the close",
			[]feed{{O, "GET / HTTP/1.1\r\nHost: h\r\n\r\n", 0}, {R, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n5\r\nabcde\r\n0\r\n\r\n", 0}},
			"GET / h req0 -> 200 resp15 !chunked_not_final\n"},
		{"unknown coding", "RFC 9110 §18.7",
			[]feed{{O, "POST / HTTP/1.1\r\nTransfer-Encoding: pigeons, chunked\r\n\r\n0\r\n\r\n", 0}, {R, ok, 0}},
			"POST /  req0 -> 200 resp5 !unknown_coding\n"},
		{"chunkedchunked", "RFC 9110 §18.7: not chunked",
			[]feed{{O, "POST / HTTP/1.1\r\nTransfer-Encoding: chunkedchunked\r\n\r\n0\r\n\r\n" + hidden, 0}, {R, ok, 0}},
			"POST /  req0 -> 200 resp5 !chunked_not_final !unknown_coding\n"},
		{"transfer-encoding in HTTP/1.0", "RFC 9112 §6.1: faulty framing, closed after the message",
			[]feed{{O, "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n" + hidden, 0}, {R, ok, 0}},
			"POST /  req3 -> 200 resp5 !te_http10\n"},
		{"folded transfer-encoding", "RFC 9112 §5.2: the fold is a space, then the field is read",
			[]feed{{O, "POST / HTTP/1.1\r\nTransfer-Encoding:\r\n chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", 0}, {R, ok, 0}},
			"POST /  req3 -> 200 resp5 !obs_fold\n"},
		{"folded content-length", "RFC 9112 §5.2",
			[]feed{{O, "POST / HTTP/1.1\r\nContent-Length:\r\n 3\r\n\r\nabc", 0}, {R, ok, 0}},
			"POST /  req3 -> 200 resp5 !obs_fold\n"},
		{"bare CR in a status line", "RFC 9112 §2.2: read as a space",
			[]feed{{O, "GET / HTTP/1.1\r\nHost: h\r\n\r\n", 0}, {R, "HTTP/1.1 200 OK\rContent-Length: 0\r\n\r\n", 0}},
			"GET / h req0 -> 200 resp0 !bare_cr\n"},
		{"bare CR hiding a field", "RFC 9112 §2.2: the field after it is no field",
			[]feed{{O, "POST / HTTP/1.1\r\nx:\rTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\nabc", 0}, {R, ok, 0}},
			"POST /  req3 -> 200 resp5 !bare_cr\n"},
		{"bare LF smuggling a length", "RFC 9112 §2.2: accepted, flagged",
			[]feed{{O, "POST / HTTP/1.1\r\nDummy: x\nContent-Length: 3\r\n\r\nabc", 0}, {R, ok, 0}},
			"POST /  req3 -> 200 resp5 !bare_lf\n"},
		{"whitespace before a request field's colon", "RFC 9112 §5.1: rejected, nothing after it read",
			[]feed{{O, "POST / HTTP/1.1\r\nContent-Length : 5\r\n\r\n" + hidden, 0}, {R, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n", 0}},
			"POST /  req0 -> 400 resp0 !bad_field_name\n"},
		{"whitespace before a response field's colon", "RFC 9112 §5.1: read without it, as a proxy does",
			[]feed{{O, "GET / HTTP/1.1\r\nHost: h\r\n\r\n", 0}, {R, "HTTP/1.1 200 OK\r\nContent-Length : 5\r\n\r\nhello", 0}},
			"GET / h req0 -> 200 resp5 !bad_field_name\n"},
		{"a request version HTTP/1.01", "RFC 9112 §2.3: rejected",
			[]feed{{O, "GET / HTTP/1.01\r\nHost: h\r\n\r\n" + hidden, 0}, {R, ok, 0}},
			"GET / h req0 -> 200 resp5 !bad_start_line\n"},
		{"a one-digit status", "RFC 9112 §4",
			[]feed{{O, "GET / HTTP/1.1\r\nHost: h\r\n\r\n", 0}, {R, "HTTP/1.1 2 OK\r\nContent-Length: 0\r\n\r\n", 0}},
			"GET / h req0 -> 2 resp0 !bad_start_line\n"},
		{"a tab after the version", "RFC 9112 §4: one SP",
			[]feed{{O, "GET / HTTP/1.1\r\nHost: h\r\n\r\n", 0}, {R, "HTTP/1.1\t200 OK\r\nContent-Length: 0\r\n\r\n", 0}},
			"GET / h req0 -> 0 resp0 !bad_start_line\n"},
		{"bare CR in a chunk size", "RFC 9112 §7.1: CRLF only; nothing after it read",
			[]feed{{O, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\r;ABCD\r\nabcde\r\n0\r\n\r\n" + hidden, 0}, {R, ok, 0}},
			"POST /  req5 -> 200 resp5 !bad_framing\n"},
		{"bare LF after chunk data", "RFC 9112 §7.1",
			[]feed{{O, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nabcde\n0\r\n\r\n" + hidden, 0}, {R, ok, 0}},
			"POST /  req5 -> 200 resp5 !bad_framing\n"},
		{"a bad length in a response", "RFC 9112 §6.3: a client closes and discards it",
			[]feed{{O, "GET / HTTP/1.1\r\nHost: h\r\n\r\n" + hidden, 0}, {R, "HTTP/1.1 200 OK\r\nContent-Length: 0x5\r\n\r\nhello" + ok, 0}},
			"GET / h req0 -> 200 resp0 !bad_framing\nGET /hidden h req0 -> -\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := summary(run(t, c.feeds)); got != c.want {
				t.Errorf("%s:\ngot\n%swant\n%s", c.section, got, c.want)
			}
		})
	}
}
