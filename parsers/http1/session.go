package http1

import (
	"bytes"
	"strconv"
	"strings"

	"github.com/flowscope-go/flowscope"
)

type state uint8

const (
	stateSeek       state = iota // looking for a message start line
	stateHead                    // collecting the start line and headers
	stateBody                    // a body of known length
	stateChunkSize               // a chunk-size line
	stateChunkData               // chunk bytes
	stateChunkEnd                // the CRLF after chunk bytes
	stateTrailers                // trailer lines after the last chunk
	stateCloseBody               // a response body that ends with the connection
	stateTunnel                  // not HTTP any more (CONNECT, Upgrade)
	stateWaitTunnel              // a CONNECT or Upgrade request waits for its answer
	stateDead                    // not HTTP
	stateClosed                  // after a message a strict recipient would close on (faulty framing)
)

// maxLine bounds a chunk-size or trailer line.
const maxLine = 4 << 10

type sideState struct {
	state     state
	buf       []byte // owned: a partial line or header block
	scanned   int    // how much of buf was searched for the end of the headers
	remaining uint64 // body or chunk bytes still due
	seen      uint64 // bytes seen before the first message start
	found     bool   // a message start was seen on this side
	midLine   bool   // seeking, the last byte given was not a line's end
	closing   bool   // the message in progress has faulty framing: the side closes after it
	cr        bool   // after a chunk's data, its CR was seen
	fresh     bool   // nothing delivered on this side yet, not even a gap
	msg       *Message
	req       *Request
	resp      *Response
}

type session struct {
	conn           *flowscope.Conn
	side           [2]sideState
	fromSYN        bool           // the connection was seen from the client's SYN
	badClient      bool           // ... and the client's first bytes cannot start a request
	pending        []*Transaction // requests waiting for their responses, in order
	depth          int
	poisoned       string
	maxHeaderBytes int
	maxHeaders     int
	maxBody        int
	out            []*Transaction

	maxPending, maxPendingBytes int
	pendingBytes                int // heads of the pending requests, and a cost each
	// evictLo and evictN are the depths of the requests reported before
	// their responses came (evictLo, evictLo+1, ...): the next evictN
	// responses are theirs.
	evictLo, evictN int
}

// pendingCost is what a waiting request costs beyond its head's bytes:
// its transaction, request and header list.
const pendingCost = 256

// wait queues a request for its response within the bounds, reporting
// the oldest unanswered when they are reached.
func (s *session) wait(tx *Transaction, head int) {
	s.pending = append(s.pending, tx)
	s.pendingBytes += head + pendingCost
	tx.cost = head + pendingCost
	for len(s.pending) > 1 && (len(s.pending) > s.maxPending || s.pendingBytes > s.maxPendingBytes) {
		old := s.pop()
		old.Flags |= Evicted
		if s.evictN == 0 {
			s.evictLo = old.Depth
		}
		s.evictN++
		s.emit(old)
	}
}

// pop takes the oldest waiting request off the queue.
func (s *session) pop() *Transaction {
	tx := s.pending[0]
	// Clear the slot: the array behind the slice would otherwise keep
	// the emitted transaction, heads and all, as long as the connection
	// lives (a kept-alive idle one for minutes).
	s.pending[0] = nil
	s.pending = s.pending[1:]
	s.pendingBytes -= tx.cost
	return tx
}

var _ flowscope.Doner = (*session)(nil)

// Done reports whether the session reads nothing more of the connection:
// it was judged not to be HTTP, or each side is in a tunnel (after
// CONNECT or Upgrade) or given up.
func (s *session) Done() bool {
	if s.poisoned != "" {
		return true
	}
	for i := range s.side {
		if st := s.side[i].state; st != stateTunnel && st != stateDead && st != stateClosed {
			return false
		}
	}
	return true
}

// Poisoned reports whether, and why, the connection was judged not to be
// HTTP (the session is then done).
func (s *session) Poisoned() (string, bool) { return s.poisoned, s.poisoned != "" }

// Data implements flowscope.SessionParser.
func (s *session) Data(side flowscope.Side, b []byte, ts int64, out []*Transaction) []*Transaction {
	if s.poisoned != "" {
		return out
	}
	s.out = out
	st := &s.side[side]
	if st.fresh && len(b) > 0 {
		st.fresh = false
		if !s.startOK(side, b) {
			st.state = stateDead
			s.checkPoison()
			return out
		}
	}
	for len(b) > 0 {
		switch st.state {
		case stateSeek:
			b = s.seek(side, b)
		case stateHead:
			b = s.head(side, b, ts)
		case stateBody, stateChunkData:
			n := min(uint64(len(b)), st.remaining)
			s.capture(st.msg, b[:n])
			st.msg.BodyLen += n
			st.msg.End = ts
			st.remaining -= n
			b = b[n:]
			if st.remaining == 0 {
				if st.state == stateBody {
					s.done(side, ts)
				} else {
					st.state = stateChunkEnd
				}
			}
		case stateChunkEnd:
			switch b[0] {
			case '\r':
				b = b[1:]
				st.cr = true
			case '\n':
				b = b[1:]
				if !st.cr { // a bare LF after the chunk's data (RFC 9112 §7.1)
					st.msg.Flags |= BadFraming
					st.closing = true
				}
				st.state, st.cr = stateChunkSize, false
			default:
				st.msg.Flags |= BadFraming
				st.state, st.cr = stateChunkSize, false
			}
		case stateChunkSize, stateTrailers:
			line, rest, ok := s.line(st, b)
			b = rest
			if !ok {
				continue
			}
			s.chunkLine(side, line, ts)
		case stateCloseBody:
			s.capture(st.msg, b)
			st.msg.BodyLen += uint64(len(b))
			st.msg.End = ts
			b = nil
		case stateTunnel, stateDead, stateWaitTunnel, stateClosed:
			b = nil
		}
	}
	s.checkPoison()
	return s.out
}

// capture keeps the first body bytes when asked to.
func (s *session) capture(m *Message, b []byte) {
	if room := s.maxBody - len(m.Body); room > 0 {
		m.Body = append(m.Body, b[:min(room, len(b))]...)
	}
}

// line collects one line (for chunk sizes and trailers) across calls. It
// returns the line without its end, the bytes after it, and whether a
// whole line is there.
func (s *session) line(st *sideState, b []byte) (line, rest []byte, ok bool) {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		if len(st.buf)+len(b) > maxLine {
			st.msg.Flags |= BadFraming | Incomplete
			st.buf = st.buf[:0]
			st.state = stateSeek
			return nil, nil, false
		}
		st.buf = append(st.buf, b...)
		return nil, nil, false
	}
	if len(st.buf) > 0 {
		st.buf = append(st.buf, b[:i]...)
		line = st.buf
		st.buf = st.buf[:0]
	} else {
		line = b[:i]
	}
	// Chunked framing ends its lines with CRLF, and has no other CR: the
	// leniency RFC 9112 §2.2 allows is for the start line and fields only
	// (§7.1). A line that breaks it is marked, and its message's side is
	// read no further, as a strict recipient rejects it.
	if len(line) == 0 || line[len(line)-1] != '\r' || bytes.IndexByte(line[:len(line)-1], '\r') >= 0 {
		st.msg.Flags |= BadFraming
		st.closing = true
	}
	return bytes.TrimSuffix(line, []byte("\r")), b[i+1:], true
}

func (s *session) chunkLine(side flowscope.Side, line []byte, ts int64) {
	st := &s.side[side]
	if st.state == stateTrailers {
		if len(line) == 0 {
			s.done(side, ts)
		}
		return
	}
	if i := bytes.IndexByte(line, ';'); i >= 0 {
		line = line[:i] // chunk extensions
	}
	n, err := strconv.ParseUint(string(bytes.TrimSpace(line)), 16, 63)
	if err != nil {
		st.msg.Flags |= BadFraming | Incomplete
		s.done(side, ts)
		return
	}
	if n == 0 {
		st.state = stateTrailers
		return
	}
	st.state, st.remaining = stateChunkData, n
}

// seek looks for the start of a message at the beginning of a line: a
// request line on the originator's side, a status line on the
// responder's. Bytes before it are skipped (the tail of a message picked
// up mid-stream, or what follows a gap).
func (s *session) seek(side flowscope.Side, b []byte) []byte {
	st := &s.side[side]
	data := b
	if len(st.buf) > 0 { // a possible start line cut at the end of the last call
		st.buf = append(st.buf, b...)
		data = st.buf
	}
	// A chunk begins a line only if the last one ended one (or the
	// search starts afresh: a new stream, a message's end, a gap), or
	// when it follows a possible start line kept in buf.
	lineStart := !st.midLine || len(st.buf) > 0
	for p := 0; p < len(data); {
		if p == 0 && lineStart || p > 0 && data[p-1] == '\n' {
			switch startLine(side, data[p:]) {
			case yes:
				if side == flowscope.Orig && bytes.HasPrefix(data[p:], h2Preface) {
					// HTTP/2 with prior knowledge (RFC 9113 §3.4): its
					// preface reads as a request line, but nothing after
					// it is HTTP/1.
					s.poisoned = "HTTP/2 (prior knowledge): not parsed"
					st.buf = st.buf[:0]
					return nil
				}
				st.found = true
				st.state = stateHead
				st.scanned = 0
				st.midLine = false
				if len(st.buf) > 0 {
					rest := append([]byte(nil), data[p:]...)
					st.buf = st.buf[:0]
					return rest
				}
				return data[p:]
			case maybe:
				if len(data)-p > s.maxHeaderBytes {
					break
				}
				if len(st.buf) == 0 {
					st.buf = append(st.buf, data[p:]...)
				} else {
					n := copy(st.buf, data[p:])
					st.buf = st.buf[:n]
				}
				s.count(st, uint64(p))
				return nil
			}
		}
		i := bytes.IndexByte(data[p:], '\n')
		if i < 0 {
			break
		}
		p += i + 1
	}
	s.count(st, uint64(len(data)))
	st.buf = st.buf[:0]
	st.midLine = data[len(data)-1] != '\n'
	return nil
}

// h2Preface begins an HTTP/2 connection whose client knows the server
// speaks it.
var h2Preface = []byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")

// startOK tells whether the first bytes b of side's stream may begin
// HTTP. Only a connection seen from its SYN is judged this way, where
// the client's first bytes are those of its stream: a request starts
// with a method token, and bytes that cannot (a TLS ClientHello, say)
// give the client side up at once instead of after 16 KiB of search.
// The server's side is then HTTP only if it starts with a status line.
func (s *session) startOK(side flowscope.Side, b []byte) bool {
	if side == flowscope.Orig {
		if !s.fromSYN || mayStartRequest(b) {
			return true
		}
		s.badClient = true
		return false
	}
	return !s.badClient || mayStartResponse(b)
}

// mayStartResponse reports whether b can begin a status line: after
// any blank lines, "HTTP/" or as much of it as b holds.
func mayStartResponse(b []byte) bool {
	b = bytes.TrimLeft(b, "\r\n")
	const p = "HTTP/"
	n := min(len(b), len(p))
	return string(b[:n]) == p[:n]
}

// mayStartRequest reports whether b, the first bytes of a client's
// stream, can begin an HTTP request: after any blank lines or spaces, a
// method token (up to 32 bytes of it are looked at) ended by a space or
// by the end of b.
func mayStartRequest(b []byte) bool {
	b = bytes.TrimLeft(b, "\r\n \t")
	for _, c := range b[:min(len(b), 32)] {
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			return true
		case c < 0x21 || c > 0x7e:
			return false
		}
	}
	return true
}

// count adds skipped bytes to the detection window of a side that has
// not shown HTTP yet.
func (s *session) count(st *sideState, n uint64) {
	if st.found {
		return
	}
	st.seen += n
	if st.seen > detectWindow {
		st.state = stateDead
	}
}

func (s *session) checkPoison() {
	o, r := &s.side[flowscope.Orig], &s.side[flowscope.Resp]
	if s.badClient {
		// The client's stream did not start as HTTP: the connection is
		// HTTP only if the server's starts with a status line (a server
		// refusing what it got, say).
		if r.state == stateDead {
			s.poisoned = "the client's first bytes cannot start a request, and the server's show no HTTP"
		}
		return
	}
	dead := func(st *sideState) bool { return st.state == stateDead }
	silent := func(st *sideState) bool { return !st.found && st.seen == 0 && st.state != stateDead }
	if (dead(o) || silent(o)) && (dead(r) || silent(r)) && (dead(o) || dead(r)) {
		s.poisoned = "no HTTP message start in the first 16 KiB"
	}
}

type tri uint8

const (
	no tri = iota
	maybe
	yes
)

// startLine tells whether b begins with an HTTP request line (originator)
// or status line (responder): yes, no, or maybe when b ends too soon.
func startLine(side flowscope.Side, b []byte) tri {
	end := bytes.IndexByte(b, '\n')
	line := b
	if end >= 0 {
		line = bytes.TrimSuffix(b[:end], []byte("\r"))
	}
	if side == flowscope.Resp {
		const p = "HTTP/1."
		if len(line) < len(p)+1 {
			if end < 0 && bytes.HasPrefix([]byte(p), line) {
				return maybe
			}
			return no
		}
		if string(line[:len(p)]) == p && line[len(p)] >= '0' && line[len(p)] <= '9' {
			return yes
		}
		return no
	}
	// method SP target SP HTTP/x.y
	i := 0
	for i < len(line) && i < 24 && isTokenUpper(line[i]) {
		i++
	}
	if i == 0 || (i == len(line) && end < 0 && i < 24) {
		if i == len(line) && end < 0 {
			return maybe
		}
		return no
	}
	if i >= len(line) || line[i] != ' ' {
		return no
	}
	if end < 0 {
		if len(line) > 8<<10 {
			return no
		}
		return maybe
	}
	j := bytes.LastIndexByte(line, ' ')
	if j > i && bytes.HasPrefix(line[j+1:], []byte("HTTP/")) {
		return yes
	}
	// A request line without a version ("GET /index.html", or a client
	// that forgot the space before it) is taken for a well-known method
	// only, where a false start is unlikely.
	if j == i && knownMethods[string(line[:i])] {
		return yes
	}
	return no
}

var knownMethods = map[string]bool{
	"GET": true, "HEAD": true, "POST": true, "PUT": true, "DELETE": true, "OPTIONS": true,
	"TRACE": true, "CONNECT": true, "PATCH": true,
}

func isTokenUpper(c byte) bool { return 'A' <= c && c <= 'Z' || c == '-' || c == '_' }

// head collects the start line and headers, and parses them once the
// blank line that ends them arrives.
func (s *session) head(side flowscope.Side, b []byte, ts int64) []byte {
	st := &s.side[side]
	old := len(st.buf)
	if old == 0 {
		// The whole head in this chunk, the common case: parse it where
		// it is, without copying it to the side's buffer.
		if end := headerEnd(b, 0); end >= 0 && end <= s.maxHeaderBytes {
			s.parseHead(side, b[:end], ts)
			return b[end:]
		}
	}
	room := s.maxHeaderBytes - old
	take := b
	if len(take) > room {
		take = take[:max(room, 0)]
	}
	st.buf = append(st.buf, take...)
	end := headerEnd(st.buf, st.scanned)
	if end < 0 {
		st.scanned = max(len(st.buf)-3, 0)
		if len(st.buf) >= s.maxHeaderBytes {
			// Too long: give up on this message and look for the next,
			// from the next line.
			st.midLine = len(take) > 0 && take[len(take)-1] != '\n'
			st.buf, st.scanned = st.buf[:0], 0
			st.state = stateSeek
			return b[len(take):]
		}
		return nil
	}
	block := st.buf[:end]
	rest := b[end-old:]
	s.parseHead(side, block, ts)
	st.buf, st.scanned = st.buf[:0], 0
	return rest
}

// headerEnd returns the offset just after the blank line ending the
// headers in b, searching from from, or -1.
func headerEnd(b []byte, from int) int {
	for i := from; i < len(b); i++ {
		if b[i] != '\n' {
			continue
		}
		if i+1 < len(b) && b[i+1] == '\n' {
			return i + 2
		}
		if i+2 < len(b) && b[i+1] == '\r' && b[i+2] == '\n' {
			return i + 3
		}
	}
	return -1
}

// parseHead turns a header block into a request or response and sets up
// the body that follows.
func (s *session) parseHead(side flowscope.Side, block []byte, ts int64) {
	st := &s.side[side]
	// One string for the whole head: the start line's parts and every
	// header name and value share it.
	m := Message{ContentLength: -1, Start: ts, End: ts}
	head := lineEnds(&m, block)
	first, rest, _ := strings.Cut(strings.TrimRight(head, "\r\n"), "\n")
	first = strings.TrimSuffix(first, "\r")
	if rest != "" {
		m.Headers = make([]Header, 0, min(strings.Count(rest, "\n")+1, s.maxHeaders))
	}
	s.headers(&m, rest)
	if side == flowscope.Orig {
		// The request and its transaction in one allocation.
		rt := &struct {
			tx  Transaction
			req Request
		}{req: Request{Message: m}}
		req := &rt.req
		sp1 := strings.IndexByte(first, ' ')
		sp2 := strings.LastIndexByte(first, ' ')
		req.Method = first[:sp1]
		if sp2 > sp1 {
			req.Target, req.Version = first[sp1+1:sp2], strings.TrimPrefix(first[sp2+1:], "HTTP/")
			if !isVersion(first[sp2+1:]) || strings.ContainsAny(req.Target, " \t") {
				req.Flags |= BadStartLine
			}
		} else {
			req.Target = first[sp1+1:]
		}
		s.depth++
		rt.tx = Transaction{Conn: s.conn, Depth: s.depth, Request: req}
		s.wait(&rt.tx, len(block))
		st.req, st.msg = req, &req.Message
		st.closing = faulty(&req.Message, req.Version)
		switch {
		case req.Flags&(BadFieldName|BadStartLine) != 0:
			// RFC 9112 §3, §5.1: a server rejects it (400) and reads no
			// further.
			st.closing = true
			s.done(side, ts)
		case req.Method == "CONNECT":
			st.state = stateWaitTunnel
		case req.te && !req.Chunked || !req.te && req.badLength:
			// The length cannot be known (RFC 9112 §6.3): a server
			// answers 400 and closes; the request ends here.
			st.closing = true
			s.done(side, ts)
		case req.Chunked:
			st.state = stateChunkSize
		case req.ContentLength > 0:
			st.state, st.remaining = stateBody, uint64(req.ContentLength)
		default:
			if _, up := req.Header("Upgrade"); up {
				st.state = stateWaitTunnel
				return
			}
			s.done(side, ts)
		}
		return
	}
	resp := &Response{Message: m}
	if !isStatusLine(first) {
		resp.Flags |= BadStartLine
	}
	status := strings.TrimPrefix(first, "HTTP/")
	sp := strings.IndexByte(status, ' ')
	if sp < 0 {
		sp = len(status)
	}
	resp.Version = status[:sp]
	code := strings.TrimLeft(status[sp:], " ")
	if i := strings.IndexByte(code, ' '); i >= 0 {
		resp.Reason = code[i+1:]
		code = code[:i]
	}
	resp.Status, _ = strconv.Atoi(code)
	st.resp, st.msg = resp, &resp.Message
	st.closing = faulty(&resp.Message, resp.Version)
	var req *Request
	if len(s.pending) > 0 {
		req = s.pending[0].Request
	}
	switch {
	case resp.Status >= 100 && resp.Status < 200 && resp.Status != 101:
		// Interim: it belongs to the request at the head, which stays.
		if len(s.pending) == 0 {
			s.depth++
			s.wait(&Transaction{Conn: s.conn, Depth: s.depth}, len(block))
		}
		if tx := s.pending[0]; len(tx.Interim) < MaxInterim {
			tx.Interim = append(tx.Interim, resp)
		} else {
			tx.Flags |= Truncated
		}
		st.resp, st.msg = nil, nil
		st.state = stateSeek
		return
	case resp.Status == 101 || (req != nil && req.Method == "CONNECT" && resp.Status/100 == 2):
		resp.Flags |= Tunnel
		s.tunnel()
		s.done(side, ts)
		return
	case (req != nil && req.Method == "HEAD") || resp.Status == 204 || resp.Status == 304:
		s.done(side, ts)
	case resp.te && !resp.Chunked:
		st.state = stateCloseBody // RFC 9112 §6.3: to the close
	case !resp.te && resp.badLength:
		// Unrecoverable (RFC 9112 §6.3): a client closes and discards it.
		st.closing = true
		s.done(side, ts)
	case resp.Chunked:
		st.state = stateChunkSize
	case resp.ContentLength >= 0:
		if resp.ContentLength == 0 {
			s.done(side, ts)
			return
		}
		st.state, st.remaining = stateBody, uint64(resp.ContentLength)
	default:
		st.state = stateCloseBody
	}
	if req != nil && s.side[flowscope.Orig].state == stateWaitTunnel {
		// The CONNECT or Upgrade was refused: the client side goes on.
		s.side[flowscope.Orig].state = stateSeek
	}
}

// headers parses the header lines in text into m.
func (s *session) headers(m *Message, text string) {
	var te bool
	// A header is taken once its value is whole: continuation lines
	// (obsolete folding) are joined to it first, each replaced by a space
	// (RFC 9112 §5.2), so that a folded Content-Length or
	// Transfer-Encoding frames the message as its whole value says.
	// Joining as they come, in fold, costs each line once.
	var cur Header
	have, kept := false, false // a header is in progress; it was kept (not dropped)
	var fold []byte
	finish := func() {
		if !have {
			return
		}
		if fold != nil {
			cur.Value = string(fold)
			fold = nil
		}
		switch {
		case equalFold(cur.Name, "Content-Length"):
			m.contentLength(cur.Value)
		case equalFold(cur.Name, "Transfer-Encoding"):
			te = true
			// Field lines of a list combine (RFC 9110 §5.3): the final
			// coding of the last line is the message's final coding.
			for _, c := range strings.Split(cur.Value, ",") {
				c = strings.ToLower(strings.TrimSpace(c))
				if c == "" {
					continue
				}
				m.Chunked = c == "chunked"
				if !knownCoding(c) {
					m.Flags |= UnknownCoding
				}
			}
		}
		if kept {
			m.Headers[len(m.Headers)-1].Value = cur.Value
		}
		have = false
	}
	for text != "" {
		var l string
		l, text, _ = strings.Cut(text, "\n")
		l = strings.TrimSuffix(l, "\r")
		if l == "" {
			continue
		}
		if l[0] == ' ' || l[0] == '\t' {
			m.Flags |= ObsFold
			if have {
				if fold == nil {
					fold = append(fold, cur.Value...)
				}
				fold = append(append(fold, ' '), strings.TrimSpace(l)...)
			}
			continue
		}
		finish()
		colon := strings.IndexByte(l, ':')
		if colon <= 0 {
			continue // not a header: skipped
		}
		name := l[:colon]
		if !isToken(name) {
			m.Flags |= BadFieldName
			// A proxy drops whitespace before the colon from a response
			// (RFC 9112 §5.1); other names that are not tokens are no
			// fields.
			if name = strings.TrimRight(name, " \t"); !isToken(name) {
				continue
			}
		}
		cur, have = Header{Name: name, Value: strings.TrimSpace(l[colon+1:])}, true
		if kept = len(m.Headers) < s.maxHeaders; kept {
			m.Headers = append(m.Headers, cur)
		} else {
			m.DroppedHeaders++
		}
	}
	finish()
	if te && m.ContentLength >= 0 {
		m.Flags |= SmugglingCLTE // chunked wins, as RFC 9112 says
	}
	m.te = te
	if te && !m.Chunked {
		m.Flags |= ChunkedNotFinal
	}
}

// lineEnds returns the head as one string, with each bare CR read as a
// space (RFC 9112 §2.2), flagging it and any line ended by a bare LF.
func lineEnds(m *Message, block []byte) string {
	bareCR := false
	for i, c := range block {
		switch c {
		case '\r':
			if i+1 == len(block) || block[i+1] != '\n' {
				bareCR = true
			}
		case '\n':
			if i == 0 || block[i-1] != '\r' {
				m.Flags |= BareLF
			}
		}
	}
	if !bareCR {
		return string(block)
	}
	m.Flags |= BareCR
	b := []byte(string(block))
	for i, c := range b {
		if c == '\r' && (i+1 == len(b) || b[i+1] != '\n') {
			b[i] = ' '
		}
	}
	return string(b)
}

// isToken reports whether s is a token (RFC 9110 §5.6.2).
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte("\"(),/:;<=>?@[\\]{}", c) >= 0 {
			return false
		}
	}
	return true
}

// isVersion reports whether s is an HTTP-version: "HTTP/" DIGIT "."
// DIGIT (RFC 9112 §2.3).
func isVersion(s string) bool {
	return len(s) == 8 && s[:5] == "HTTP/" && isDigit(s[5]) && s[6] == '.' && isDigit(s[7])
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// isStatusLine reports whether line is HTTP-version SP 3DIGIT, then SP
// and a reason or nothing (RFC 9112 §4; the space before an empty
// reason is often left out, and taken as well).
func isStatusLine(line string) bool {
	if len(line) < 12 || !isVersion(line[:8]) || line[8] != ' ' ||
		!isDigit(line[9]) || !isDigit(line[10]) || !isDigit(line[11]) {
		return false
	}
	return len(line) == 12 || line[12] == ' '
}

// faulty flags a message whose framing RFC 9112 calls faulty: one of
// HTTP/1.0 with Transfer-Encoding (§6.1). A strict recipient processes
// it and closes the connection: it reports whether to.
func faulty(m *Message, version string) bool {
	if m.te && version == "1.0" {
		m.Flags |= TEHTTP10
		return true
	}
	return false
}

// contentLength takes a Content-Length value: digits (RFC 9110 §8.6),
// or a list of equal ones; anything else, or values that disagree with
// an earlier one, make the framing unrecoverable (RFC 9112 §6.3).
func (m *Message) contentLength(v string) {
	var n int64 = -1
	for _, part := range strings.Split(v, ",") {
		part = strings.TrimSpace(part)
		k, ok := digits(part)
		if !ok || n >= 0 && k != n {
			if ok {
				m.Flags |= SmugglingCLCL
			} else {
				m.Flags |= BadFraming
			}
			m.badLength = true
			return
		}
		n = k
	}
	switch {
	case m.ContentLength < 0:
		m.ContentLength = n
	case m.ContentLength != n:
		m.Flags |= SmugglingCLCL
		m.badLength = true
	}
}

// digits reads a decimal count: any number of digits (RFC 9110 §8.6),
// of which at most 18 after the leading zeros.
func digits(s string) (int64, bool) {
	if s == "" {
		return 0, false
	}
	if t := strings.TrimLeft(s, "0"); len(t) < len(s) {
		if s = t; s == "" {
			return 0, true
		}
	}
	if len(s) > 18 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// knownCoding reports whether c is a registered transfer coding (RFC
// 9110 §18.7, RFC 9112 §7).
func knownCoding(c string) bool {
	switch c {
	case "chunked", "compress", "deflate", "gzip", "x-compress", "x-gzip":
		return true
	}
	return false
}

// tunnel stops parsing both sides: what follows is not HTTP.
func (s *session) tunnel() {
	for i := range s.side {
		s.side[i].state = stateTunnel
	}
}

// done finishes the message in progress on a side. A finished response
// completes its transaction, which is emitted.
func (s *session) done(side flowscope.Side, ts int64) {
	st := &s.side[side]
	if st.msg != nil {
		st.msg.End = max(st.msg.End, ts)
	}
	switch {
	case st.closing:
		st.state, st.closing = stateClosed, false // nothing after it is framed
	case st.state != stateTunnel:
		st.state = stateSeek
	}
	if side == flowscope.Orig {
		st.req, st.msg = nil, nil
		return
	}
	resp := st.resp
	st.resp, st.msg = nil, nil
	if resp == nil {
		return
	}
	var tx *Transaction
	switch {
	case s.evictN > 0:
		// The response of a request reported before it came.
		tx = &Transaction{Conn: s.conn, Depth: s.evictLo, Flags: Evicted}
		s.evictLo++
		s.evictN--
	case len(s.pending) > 0:
		tx = s.pop()
	default:
		s.depth++
		tx = &Transaction{Conn: s.conn, Depth: s.depth}
	}
	tx.Response = resp
	s.emit(tx)
}

func (s *session) emit(tx *Transaction) {
	if tx.Request != nil {
		tx.Flags |= tx.Request.Flags
	}
	if tx.Response != nil {
		tx.Flags |= tx.Response.Flags
	}
	s.out = append(s.out, tx)
}

// Gap implements flowscope.SessionParser: the message in progress is
// marked incomplete; a body of known length keeps its framing, anything
// else resumes at the next message start.
func (s *session) Gap(side flowscope.Side, n uint64, ts int64, out []*Transaction) []*Transaction {
	if s.poisoned != "" {
		return out
	}
	s.out = out
	st := &s.side[side]
	st.fresh = false
	if st.msg != nil {
		st.msg.Flags |= Incomplete
	}
	switch st.state {
	case stateBody, stateChunkData:
		if n < st.remaining {
			st.remaining -= n
			return s.out
		}
		if st.state == stateBody {
			s.done(side, ts)
			return s.out
		}
		fallthrough
	case stateHead, stateChunkSize, stateChunkEnd, stateTrailers:
		if st.state != stateHead {
			s.done(side, ts)
		}
		st.buf, st.scanned = st.buf[:0], 0
		st.state = stateSeek
		if side == flowscope.Orig {
			st.req, st.msg = nil, nil
		} else {
			st.resp, st.msg = nil, nil
		}
	case stateSeek:
		st.buf = st.buf[:0]
	}
	st.midLine = false // the search starts afresh after a gap
	return s.out
}

// End implements flowscope.SessionParser: a body that ends with the
// connection is complete; other messages in progress are incomplete;
// requests never answered are emitted alone.
func (s *session) End(_ *flowscope.FlowRecord, out []*Transaction) []*Transaction {
	s.out = out
	if s.poisoned != "" {
		return s.out
	}
	r := &s.side[flowscope.Resp]
	switch r.state {
	case stateCloseBody:
		s.done(flowscope.Resp, r.msg.End)
	case stateBody, stateChunkData, stateChunkSize, stateChunkEnd, stateTrailers:
		r.msg.Flags |= Incomplete
		s.done(flowscope.Resp, r.msg.End)
	}
	if o := &s.side[flowscope.Orig]; o.msg != nil && o.state != stateSeek && o.state != stateWaitTunnel {
		o.msg.Flags |= Incomplete
	}
	for _, tx := range s.pending {
		s.emit(tx)
	}
	s.pending, s.pendingBytes = nil, 0
	return s.out
}

// Held implements flowscope.Holder: the heads of the requests waiting
// for their responses, and the partial lines and heads buffered.
func (s *session) Held() int {
	return s.pendingBytes + cap(s.side[0].buf) + cap(s.side[1].buf)
}

var _ flowscope.Holder = (*session)(nil)
