// Package http1 parses HTTP/1.0 and HTTP/1.1 from the two reassembled
// byte streams of a TCP connection into transactions: a request paired
// with its response, as Zeek's http.log has them.
//
// It is a streaming parser built for captured traffic: it finds HTTP by
// content on any port, copes with keep-alive, pipelining, chunked bodies
// with trailers, bodies that end with the connection, responses without
// bodies, interim 1xx responses, CONNECT and Upgrade tunnels, gaps (the
// message in progress is marked incomplete and parsing resumes at the
// next message start) and connections picked up mid-stream. A connection
// whose record shows it was seen from its SYN is judged by its first
// bytes: a client that opens with bytes no request can start with (a TLS
// ClientHello, say) is not HTTP, and the connection is given up at once
// unless the server's first bytes are a status line; others are searched
// for a message start for their first 16 KiB. It flags the
// ambiguities that enable request smuggling. Headers are bounded in size
// and count; bodies are counted, not kept.
//
// # Usage
//
// Parser{} is a flowscope.SessionFactory[*Transaction], and each
// *Transaction a record (kind "http"); give it to a Driver:
//
//	cfg := flowscope.Config{Parsers: []flowscope.Parser{flowscope.Session(http1.Parser{})}}
package http1

import (
	"github.com/flowscope-go/flowscope"
	"github.com/flowscope-go/flowscope/flowkey"
)

// Defaults of Parser's bounds.
const (
	DefaultMaxHeaderBytes = 64 << 10
	DefaultMaxHeaders     = 256
	// DefaultMaxPending bounds the requests of a connection that wait
	// for their responses (pipelined, or never answered).
	DefaultMaxPending = 256
	// DefaultMaxPendingBytes bounds the bytes of their heads.
	DefaultMaxPendingBytes = 1 << 20
	// MaxInterim is the most 1xx responses kept for a transaction.
	MaxInterim = 8
	// detectWindow is how many bytes of each side are searched for a
	// message start before the connection is judged not to be HTTP.
	detectWindow = 16 << 10
)

// Parser makes HTTP/1.x session parsers. The zero Parser uses the
// defaults.
type Parser struct {
	// MaxHeaderBytes bounds a message's start line and headers. A message
	// whose headers exceed it is cut there and marked incomplete. Zero
	// means 64 KiB.
	MaxHeaderBytes int
	// MaxHeaders bounds the headers kept per message; later ones are
	// counted in Message.DroppedHeaders. Zero means 256.
	MaxHeaders int
	// MaxBodyCapture is how many bytes of each body (after de-chunking)
	// are kept in Message.Body. Zero keeps none: bodies are only counted.
	MaxBodyCapture int
	// MaxPending and MaxPendingBytes bound the requests that wait for
	// their responses, in number and in bytes of their heads: beyond
	// either the oldest is reported at once, unanswered and flagged
	// Evicted, and the response that comes for it later is reported
	// alone (flagged Evicted too). Zero means 256 requests, 1 MiB.
	MaxPending, MaxPendingBytes int
}

// NewSession returns a parser for one connection.
func (p Parser) NewSession(c *flowscope.Conn) flowscope.SessionParser[*Transaction] {
	s := &session{conn: c, maxHeaderBytes: p.MaxHeaderBytes, maxHeaders: p.MaxHeaders, maxBody: p.MaxBodyCapture,
		maxPending: p.MaxPending, maxPendingBytes: p.MaxPendingBytes}
	if s.maxPending <= 0 {
		s.maxPending = DefaultMaxPending
	}
	if s.maxPendingBytes <= 0 {
		s.maxPendingBytes = DefaultMaxPendingBytes
	}
	if s.maxHeaderBytes <= 0 {
		s.maxHeaderBytes = DefaultMaxHeaderBytes
	}
	if s.maxHeaders <= 0 {
		s.maxHeaders = DefaultMaxHeaders
	}
	for i := range s.side {
		s.side[i].state = stateSeek
		s.side[i].fresh = true
	}
	// A connection seen from its SYN gives the client's stream from its
	// first byte (or a gap first, when the capture missed it).
	s.fromSYN = c != nil && c.Proto == flowkey.ProtoTCP && c.History.At(0) == 'S'
	return s
}

var _ flowscope.SessionFactory[*Transaction] = Parser{}

// Header is one header line, in the order it appeared.
type Header struct {
	Name, Value string
}

// Flags mark what was odd about a message or transaction.
type Flags uint32

const (
	// Incomplete: part of the message is missing (a gap, a bound, or the
	// connection ended in the middle).
	Incomplete Flags = 1 << iota
	// Tunnel: CONNECT or Upgrade succeeded; the rest of the connection is
	// not HTTP and was not parsed.
	Tunnel
	// SmugglingCLTE: both Content-Length and Transfer-Encoding: chunked.
	SmugglingCLTE
	// SmugglingCLCL: several Content-Length values that disagree: the
	// framing is unrecoverable (RFC 9112 §6.3), nothing after the
	// message is read on its side.
	SmugglingCLCL
	// ObsFold: a header continued on the next line (obsolete folding).
	ObsFold
	// BadFraming: a malformed chunk size or Content-Length. A
	// Content-Length that is not digits (or a list of equal ones) makes
	// the framing unrecoverable (RFC 9112 §6.3): nothing after the
	// message is read on its side, as a strict recipient closes.
	BadFraming
	// Evicted: the request was reported before its response came, as
	// more requests waited than Parser.MaxPending (or MaxPendingBytes)
	// allows; the response is then reported alone.
	Evicted
	// Truncated: more interim (1xx) responses came than MaxInterim;
	// the later ones were counted, not kept.
	Truncated
	// ChunkedNotFinal: Transfer-Encoding without chunked as its final
	// coding (RFC 9112 §6.3): a response's body then runs to the close;
	// a request's length cannot be known, and a server closes after it.
	ChunkedNotFinal
	// UnknownCoding: a transfer coding not registered (RFC 9110 §18.7):
	// not chunked, compress, deflate, gzip, x-compress or x-gzip.
	UnknownCoding
	// TEHTTP10: Transfer-Encoding in an HTTP/1.0 message, whose framing
	// is then faulty (RFC 9112 §6.1): nothing after it is read.
	TEHTTP10
	// BareCR: a CR not followed by LF in the start line or a field; it
	// was read as a space (RFC 9112 §2.2).
	BareCR
	// BareLF: a line of the head ended by LF alone, which RFC 9112 §2.2
	// lets a recipient accept; mixed with CRLF it can hide a field from
	// a stricter peer.
	BareLF
	// BadFieldName: whitespace before a field's colon, or a name that is
	// not a token (RFC 9112 §5.1). A server rejects such a request (and
	// reads nothing after it); in a response the name is read without
	// the whitespace, as a proxy must.
	BadFieldName
	// BadStartLine: a request or status line that is not as RFC 9112 §3
	// and §4 have it (version HTTP/d.d, one space, a three-digit status).
	BadStartLine
)

var flagNames = [...]string{"incomplete", "tunnel", "smuggling_cl_te", "smuggling_cl_cl", "obs_fold", "bad_framing", "evicted", "truncated",
	"chunked_not_final", "unknown_coding", "te_http10", "bare_cr", "bare_lf", "bad_field_name", "bad_start_line"}

// Names returns the names of the flags set, in a fixed order.
func (f Flags) Names() []string {
	var out []string
	for i, n := range flagNames {
		if f&(1<<i) != 0 {
			out = append(out, n)
		}
	}
	return out
}

// Message is the common part of requests and responses.
type Message struct {
	Version string
	Headers []Header
	// DroppedHeaders counts headers beyond the MaxHeaders bound.
	DroppedHeaders int
	// ContentLength is the first Content-Length header's value, -1 when
	// absent or not a number.
	ContentLength int64
	// Chunked is set for Transfer-Encoding: chunked.
	Chunked bool
	// BodyLen counts the body bytes seen, after de-chunking.
	BodyLen uint64
	// Body holds the first Parser.MaxBodyCapture bytes of the body (a
	// copy); nil when capture is off.
	Body []byte
	// Start and End are the capture times of the first and last bytes.
	Start, End int64
	Flags      Flags

	te        bool // a Transfer-Encoding header came
	badLength bool // a Content-Length that makes the framing unrecoverable
}

// Header returns the value of the first header named name (ASCII case
// insensitive), and whether there was one.
func (m *Message) Header(name string) (string, bool) {
	for _, h := range m.Headers {
		if equalFold(h.Name, name) {
			return h.Value, true
		}
	}
	return "", false
}

// Request is an HTTP request.
type Request struct {
	Message
	Method, Target string
}

// Response is an HTTP response.
type Response struct {
	Message
	Status int
	Reason string
}

// Transaction is a request and its response. Either may be nil: a
// response seen without its request (a capture that starts mid-stream),
// or a request whose response never came.
type Transaction struct {
	// Conn is the connection the transaction was seen on.
	Conn *flowscope.Conn
	// Depth is the transaction's position on its connection, from 1.
	Depth    int
	Request  *Request
	Response *Response
	// Interim holds 1xx responses that came before the final one.
	Interim []*Response
	// Flags gathers the flags of both messages.
	Flags Flags

	cost int // what it counts against the pending bound while it waits
}

func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
