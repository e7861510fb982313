// Package conversation presents both directions of a TCP connection as one
// ordered stream of events: the reassembled bytes of the originator and
// of the responder, and the gaps where bytes are missing, in causal
// order, ending with how the connection ended.
//
// Causal order means that bytes of one side come after every byte of the
// other side that they acknowledge, even when the capture shows them the
// other way round (a response captured before the last segment of its
// request); bytes that need not wait come in capture order. The Driver
// puts every connection's streams in that order for all its session
// parsers; Parser is one that turns them into events.
//
// # Usage
//
// Add Parser{} to a Driver's parsers (or a tracking stage's), beside any
// others; its events are records of the Driver's output, *Event:
//
//	cfg := flowscope.Config{Parsers: []flowscope.Parser{flowscope.Session(conversation.Parser{})}}
//	recs, _ := stage.Track(g, "track", flowkey.FiveTupleExtractor{}, &stage.TrackConfig{Workers: 2, Driver: cfg}, pkts)
//	convs, rest := stage.Select[*conversation.Event](g, "convs", recs)
//
// sink.Transcripts writes them to files, as tcpflow and "Follow TCP
// stream" do.
//
// # Memory
//
// An event owns a copy of its bytes. Bytes that must wait for the other
// side are held by the Driver, at most 1 MiB a connection (beyond that
// the oldest waits are given up and bytes go out in capture order).
package conversation

import (
	"github.com/flowscope-go/flowscope"
)

// Kind tells what an Event carries.
type Kind uint8

const (
	// Data: Bytes of one side, at Offset in that side's stream.
	Data Kind = iota + 1
	// Gap: Gap bytes of one side, at Offset, that will never come.
	Gap
	// End: the connection is over; Record is its final record.
	End
)

var kindNames = [...]string{"", "data", "gap", "end"}

// String returns the kind's name: "data", "gap" or "end".
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "unknown"
}

// Event is one step of one connection's conversation. The events of one
// connection come in causal order and share one Conn; the events of
// different connections interleave. An Event owns its Bytes and Record.
type Event struct {
	Conn *flowscope.Conn
	Kind Kind
	Side flowscope.Side
	// Offset is the stream offset of the first byte (or of the gap) in
	// its side's stream: bytes and gaps of that side before it. For a
	// connection picked up without its handshake, offset 0 is the first
	// byte seen.
	Offset uint64
	Bytes  []byte
	Gap    uint64
	// Time is the capture time, in Unix nanoseconds, of the packet that
	// made the bytes or the gap known; for End, the connection's last
	// packet.
	Time   int64
	Record *flowscope.FlowRecord
}

// Parser makes the conversation of every TCP connection: it is a
// flowscope.SessionFactory of *Event that takes every connection and
// never gives up. The zero Parser is ready to use.
type Parser struct{}

// NewSession returns the conversation of one connection.
func (Parser) NewSession(c *flowscope.Conn) flowscope.SessionParser[*Event] {
	return &session{conn: c}
}

type session struct {
	conn *flowscope.Conn
	next [2]uint64 // the stream offset of each side's next byte
}

func (s *session) Data(side flowscope.Side, b []byte, ts int64, out []*Event) []*Event {
	if len(b) == 0 {
		return out
	}
	e := &Event{Conn: s.conn, Kind: Data, Side: side, Offset: s.next[side], Time: ts,
		Bytes: append([]byte(nil), b...)} // events outlive the packet
	s.next[side] += uint64(len(b))
	return append(out, e)
}

func (s *session) Gap(side flowscope.Side, n uint64, ts int64, out []*Event) []*Event {
	e := &Event{Conn: s.conn, Kind: Gap, Side: side, Offset: s.next[side], Gap: n, Time: ts}
	s.next[side] += n
	return append(out, e)
}

func (s *session) End(rec *flowscope.FlowRecord, out []*Event) []*Event {
	r := *rec
	return append(out, &Event{Conn: s.conn, Kind: End, Time: rec.Last, Record: &r})
}

var (
	_ flowscope.SessionFactory[*Event] = Parser{}
	_ flowscope.Record                 = (*Event)(nil)
)

// schema is the conversation event's: the connection, then what the
// event is (event, side), where (offset), and what it carries (data for
// bytes, gap for missing bytes, end_reason at the end).
var schema = flowscope.ConnSchema("conversation",
	flowscope.Field{Name: "event", Type: flowscope.TypeEnum},
	flowscope.Field{Name: "side", Type: flowscope.TypeEnum},
	flowscope.Field{Name: "offset", Type: flowscope.TypeCount},
	flowscope.Field{Name: "data", Type: flowscope.TypeString},
	flowscope.Field{Name: "gap", Type: flowscope.TypeCount},
	flowscope.Field{Name: "end_reason", Type: flowscope.TypeString},
)

// Schema returns the schema of conversation records: ts, uid, id.orig_h,
// id.orig_p, id.resp_h, id.resp_p, event ("data", "gap" or "end"), and
// for data and gaps side ("orig" or "resp") and offset, then data (the
// bytes, as captured), gap (the bytes missing) or end_reason.
func (e *Event) Schema() *flowscope.Schema { return schema }

// AppendValues appends the values of the event's fields to vs.
func (e *Event) AppendValues(vs []flowscope.Value) []flowscope.Value {
	vs = e.Conn.AppendValues(vs, e.Time)
	vs = append(vs, flowscope.EnumValue(e.Kind.String()))
	if e.Kind == End {
		reason := flowscope.Value{}
		if e.Record != nil {
			reason = flowscope.StringValue(e.Record.Reason.String())
		}
		return append(vs, flowscope.Value{}, flowscope.Value{}, flowscope.Value{}, flowscope.Value{}, reason)
	}
	vs = append(vs, flowscope.EnumValue(e.Side.String()), flowscope.CountValue(e.Offset))
	if e.Kind == Gap {
		return append(vs, flowscope.Value{}, flowscope.CountValue(e.Gap), flowscope.Value{})
	}
	return append(vs, flowscope.TextValue((*eventBytes)(e)), flowscope.Value{}, flowscope.Value{})
}

// eventBytes appends an event's bytes as its data field's text.
type eventBytes Event

func (e *eventBytes) AppendText(b []byte) ([]byte, error) { return append(b, e.Bytes...), nil }
