package flowscope

// SessionParser parses the two byte streams of one TCP connection into
// messages of type M. The tracker (or any driver) feeds it each side's
// bytes in stream order, tells it about gaps, and ends it once. Every
// method appends the messages it completed to out and returns it, so
// feeding allocates nothing when nothing is completed.
//
// Bytes passed to Data are borrowed: valid only during the call; a parser
// copies what it keeps. A SessionParser is used by one goroutine.
type SessionParser[M any] interface {
	// Data feeds the next bytes of side s, captured at ts (Unix ns).
	Data(s Side, b []byte, ts int64, out []M) []M
	// Gap reports that n bytes of side s are missing at this point.
	Gap(s Side, n uint64, ts int64, out []M) []M
	// End reports that the connection is over (rec says how) and flushes
	// messages still in progress.
	End(rec *FlowRecord, out []M) []M
}

// DatagramParser parses the datagrams of one UDP flow into messages of
// type M. The payload is borrowed: valid only during the call.
type DatagramParser[M any] interface {
	Datagram(s Side, payload []byte, ts int64, out []M) []M
	// End reports that the flow is over and flushes what is pending
	// (unanswered queries, for instance).
	End(rec *FlowRecord, out []M) []M
}

// SessionFactory makes a SessionParser for each new TCP connection, or
// nil to leave it alone. A parser's zero-config value is usually its own
// factory: http1.Parser{} makes HTTP/1.x session parsers.
type SessionFactory[M any] interface {
	NewSession(rec *FlowRecord) SessionParser[M]
}

// SessionFactoryFunc adapts a function to SessionFactory.
type SessionFactoryFunc[M any] func(rec *FlowRecord) SessionParser[M]

// NewSession calls f.
func (f SessionFactoryFunc[M]) NewSession(rec *FlowRecord) SessionParser[M] { return f(rec) }

// DatagramFactory makes a DatagramParser for each new UDP flow, or nil.
type DatagramFactory[M any] interface {
	NewDatagram(rec *FlowRecord) DatagramParser[M]
}

// DatagramFactoryFunc adapts a function to DatagramFactory.
type DatagramFactoryFunc[M any] func(rec *FlowRecord) DatagramParser[M]

// NewDatagram calls f.
func (f DatagramFactoryFunc[M]) NewDatagram(rec *FlowRecord) DatagramParser[M] { return f(rec) }

// Poisoner is implemented by parsers that can give up on a flow (it is
// not their protocol, or it broke beyond repair). Once Poisoned reports
// true, feeding the parser costs nothing and drivers may stop.
type Poisoner interface {
	Poisoned() (reason string, poisoned bool)
}

// Doner is implemented by stream handlers, and session parsers, that can
// tell when they want no more of a connection's bytes: a parser that has
// read all it reads (a TLS handshake, both sides now encrypted) or given
// up on the connection. Once Done reports true it stays true; the tracker
// then passes the handler no more chunks (reassembly goes on, so the
// connection's statistics stay exact) and still calls End. SessionHandler's
// handlers are done when their parser is poisoned or done; TeeStreams'
// when all of theirs are; an Orderer's when its handler is.
type Doner interface {
	Done() bool
}

// SessionHandler returns a StreamHandler that feeds one connection's
// chunks to p and passes each message completed to emit. Drivers wrap it
// with conversation.Ordered when messages pair across sides (requests and
// responses), so that a response is never parsed before its request.
func SessionHandler[M any](p SessionParser[M], emit func(M)) StreamHandler {
	h := &sessionHandler[M]{p: p, emit: emit}
	h.po, _ = p.(Poisoner)
	h.dn, _ = p.(Doner)
	return h
}

type sessionHandler[M any] struct {
	p    SessionParser[M]
	po   Poisoner // p, if it can give up
	dn   Doner    // p, if it can say it is done
	emit func(M)
	out  []M
	done bool // the parser poisoned itself or is done
}

func (h *sessionHandler[M]) Chunk(c *Chunk) {
	if h.done {
		return
	}
	if c.Gap > 0 {
		h.out = h.p.Gap(c.Side, c.Gap, c.Time, h.out[:0])
	} else {
		h.out = h.p.Data(c.Side, c.Bytes, c.Time, h.out[:0])
	}
	h.flush()
	if h.po != nil {
		if _, poisoned := h.po.Poisoned(); poisoned {
			h.done = true
		}
	}
	if h.dn != nil && h.dn.Done() {
		h.done = true
	}
}

// Done reports whether the parser is poisoned or done.
func (h *sessionHandler[M]) Done() bool { return h.done }

func (h *sessionHandler[M]) End(rec *FlowRecord) {
	h.out = h.p.End(rec, h.out[:0])
	h.flush()
}

func (h *sessionHandler[M]) flush() {
	for _, m := range h.out {
		h.emit(m)
	}
	clear(h.out)
}

// DatagramHandlerFor returns a DatagramHandler that feeds one UDP flow's
// payloads to p and passes each message completed to emit.
func DatagramHandlerFor[M any](p DatagramParser[M], emit func(M)) DatagramHandler {
	return &datagramHandler[M]{p: p, emit: emit}
}

type datagramHandler[M any] struct {
	p    DatagramParser[M]
	emit func(M)
	out  []M
	done bool
}

func (h *datagramHandler[M]) Datagram(s Side, payload []byte, ts int64) {
	if h.done {
		return
	}
	h.out = h.p.Datagram(s, payload, ts, h.out[:0])
	for _, m := range h.out {
		h.emit(m)
	}
	clear(h.out)
	if po, ok := h.p.(Poisoner); ok {
		if _, poisoned := po.Poisoned(); poisoned {
			h.done = true
		}
	}
}

func (h *datagramHandler[M]) End(rec *FlowRecord) {
	h.out = h.p.End(rec, h.out[:0])
	for _, m := range h.out {
		h.emit(m)
	}
	clear(h.out)
}
