package flowscope

// SessionParser parses the two byte streams of one TCP connection into
// messages of type M. A Driver feeds it each side's bytes in stream
// order, both sides in causal order (bytes that answer others come after
// them, even when the capture shows them first), tells it about gaps,
// and ends it once. Every method appends the messages it completed to
// out and returns it, so feeding allocates nothing when nothing is
// completed.
//
// Bytes passed to Data are borrowed: valid only during the call; a parser
// copies what it keeps. A SessionParser is used by one goroutine. A
// parser that can tell it wants no more of a connection (it is not its
// protocol, or it has read all it reads) implements Doner.
type SessionParser[M any] interface {
	// Data feeds the next bytes of side s, captured at ts (Unix ns).
	Data(s Side, b []byte, ts int64, out []M) []M
	// Gap reports that n bytes of side s are missing at this point.
	Gap(s Side, n uint64, ts int64, out []M) []M
	// End reports that the connection is over (rec is its final record)
	// and flushes messages still in progress.
	End(rec *FlowRecord, out []M) []M
}

// DatagramParser parses the datagrams of one UDP flow into messages of
// type M, in capture order. The payload is borrowed: valid only during
// the call. A parser that gives up on a flow implements Doner.
type DatagramParser[M any] interface {
	Datagram(s Side, payload []byte, ts int64, out []M) []M
	// End reports that the flow is over and flushes what is pending
	// (unanswered queries, for instance).
	End(rec *FlowRecord, out []M) []M
}

// SessionFactory makes a SessionParser for each new TCP connection, or
// nil to leave it alone. c identifies the connection (the parser puts it
// in its records) and says how it began. A parser's zero-config value is
// usually its own factory: http1.Parser{} makes HTTP/1.x session parsers.
type SessionFactory[M any] interface {
	NewSession(c *Conn) SessionParser[M]
}

// SessionFactoryFunc adapts a function to SessionFactory.
type SessionFactoryFunc[M any] func(c *Conn) SessionParser[M]

// NewSession calls f.
func (f SessionFactoryFunc[M]) NewSession(c *Conn) SessionParser[M] { return f(c) }

// DatagramFactory makes a DatagramParser for each new UDP flow, or nil.
type DatagramFactory[M any] interface {
	NewDatagram(c *Conn) DatagramParser[M]
}

// DatagramFactoryFunc adapts a function to DatagramFactory.
type DatagramFactoryFunc[M any] func(c *Conn) DatagramParser[M]

// NewDatagram calls f.
func (f DatagramFactoryFunc[M]) NewDatagram(c *Conn) DatagramParser[M] { return f(c) }

// Doner is implemented by parsers that can tell when they want no more
// of a flow: the flow is not their protocol, it broke beyond repair, or
// they have read all they read (a TLS handshake, both sides now
// encrypted). Once Done reports true it stays true; the Driver then
// feeds the parser nothing more (reassembly goes on, so the connection's
// statistics stay exact) and still calls End.
type Doner interface {
	Done() bool
}

// Holder is implemented by parsers that hold data between calls
// (partial messages, requests waiting for responses, queries waiting for
// answers): Held says about how many bytes. A Driver asks after each
// call and counts it against Config.MemoryBudget with the flow's own
// charge, so that what parsers hold is bounded across flows as well as
// by each parser's own bounds a flow: reaching the budget ends the least
// recently seen flows, whose parsers' state goes with them.
type Holder interface {
	Held() int
}

// Parser is a protocol parser ready for a Driver: a SessionFactory or a
// DatagramFactory whose messages are records. Make one with Session or
// Datagram; the zero Parser does nothing.
type Parser struct {
	session  func(c *Conn, env *runEnv) streamHandler
	datagram func(c *Conn, env *runEnv) datagramHandler
}

// Session returns a Parser that runs f's session parsers on every TCP
// connection; their messages are records of the Driver's output.
func Session[M Record](f SessionFactory[M]) Parser {
	return Parser{session: func(c *Conn, env *runEnv) streamHandler {
		p := f.NewSession(c)
		if p == nil {
			return nil
		}
		return &sessionRun[M]{p: p, env: env}
	}}
}

// Datagram returns a Parser that runs f's datagram parsers on every UDP
// flow; their messages are records of the Driver's output.
func Datagram[M Record](f DatagramFactory[M]) Parser {
	return Parser{datagram: func(c *Conn, env *runEnv) datagramHandler {
		p := f.NewDatagram(c)
		if p == nil {
			return nil
		}
		return &datagramRun[M]{p: p, env: env}
	}}
}

// sessionRun feeds one connection's chunks to a session parser and
// appends the messages it completes to the Driver's output.
type sessionRun[M Record] struct {
	p    SessionParser[M]
	env  *runEnv
	msgs []M
	done bool
	held int32 // what p last said it held (Holder), counted in env.mem
}

func (h *sessionRun[M]) Chunk(c *chunk) {
	if h.done {
		return
	}
	if c.Gap > 0 {
		h.msgs = h.p.Gap(c.Side, c.Gap, c.Time, h.msgs[:0])
	} else {
		h.msgs = h.p.Data(c.Side, c.Bytes, c.Time, h.msgs[:0])
	}
	h.emit()
	h.done = isDone(h.p)
	h.held = count(h.p, h.held, h.env)
}

// isDone reports whether p is a Doner that is done. (Asked at each call
// rather than kept: a field for it cost each parser of each connection
// 16 bytes.)
func isDone(p any) bool {
	dn, ok := p.(Doner)
	return ok && dn.Done()
}

// Done reports whether the parser is done.
func (h *sessionRun[M]) Done() bool { return h.done }

func (h *sessionRun[M]) End(rec *FlowRecord) {
	h.msgs = h.p.End(rec, h.msgs[:0])
	h.emit()
	*h.env.mem -= int(h.held)
	h.held = 0
}

func (h *sessionRun[M]) emit() {
	for _, m := range h.msgs {
		h.env.out = append(h.env.out, m)
	}
	clear(h.msgs)
}

// count updates a parser's held bytes in env's memory count: p says what
// it holds now if it is a Holder; it was counted at was.
func count(p any, was int32, env *runEnv) int32 {
	hd, ok := p.(Holder)
	if !ok {
		return was
	}
	now := int32(min(hd.Held(), 1<<30))
	*env.mem += int(now - was)
	return now
}

// datagramRun feeds one UDP flow's payloads to a datagram parser.
type datagramRun[M Record] struct {
	p    DatagramParser[M]
	env  *runEnv
	msgs []M
	done bool
	held int32
}

func (h *datagramRun[M]) Datagram(s Side, payload []byte, ts int64) {
	if h.done {
		return
	}
	h.msgs = h.p.Datagram(s, payload, ts, h.msgs[:0])
	h.emit()
	h.done = isDone(h.p)
	h.held = count(h.p, h.held, h.env)
}

func (h *datagramRun[M]) End(rec *FlowRecord) {
	h.msgs = h.p.End(rec, h.msgs[:0])
	h.emit()
	*h.env.mem -= int(h.held)
	h.held = 0
}

func (h *datagramRun[M]) emit() {
	for _, m := range h.msgs {
		h.env.out = append(h.env.out, m)
	}
	clear(h.msgs)
}

// teeStreams passes every chunk and the end to each of its handlers in
// turn; it is done when all of them are.
type teeStreams struct {
	hs   []streamHandler
	ds   []Doner // the same handlers as Doners; nil if one is not
	hbuf [4]streamHandler
	dbuf [4]Doner
}

// teeStreams returns a handler feeding hs, which are not nil: hs[0]
// itself when there is one.
func newTeeStreams(hs []streamHandler) streamHandler {
	if len(hs) == 1 {
		return hs[0]
	}
	t := &teeStreams{}
	t.hs, t.ds = t.hbuf[:0], t.dbuf[:0]
	if len(hs) > len(t.hbuf) {
		t.hs, t.ds = make([]streamHandler, 0, len(hs)), make([]Doner, 0, len(hs))
	}
	for _, h := range hs {
		t.hs = append(t.hs, h)
		if d, ok := h.(Doner); ok && t.ds != nil {
			t.ds = append(t.ds, d)
		} else {
			t.ds = nil // one that cannot say keeps the tee going
		}
	}
	return t
}

func (t *teeStreams) Chunk(c *chunk) {
	for _, h := range t.hs {
		h.Chunk(c)
	}
}

// Done reports whether every handler is done.
func (t *teeStreams) Done() bool {
	for _, d := range t.ds {
		if !d.Done() {
			return false
		}
	}
	return t.ds != nil
}

func (t *teeStreams) End(rec *FlowRecord) {
	for _, h := range t.hs {
		h.End(rec)
	}
}

// teeDatagrams passes every datagram and the end to each of its handlers.
type teeDatagrams []datagramHandler

func (t teeDatagrams) Datagram(s Side, payload []byte, ts int64) {
	for _, h := range t {
		h.Datagram(s, payload, ts)
	}
}

func (t teeDatagrams) End(rec *FlowRecord) {
	for _, h := range t {
		h.End(rec)
	}
}
