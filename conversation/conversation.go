// Package conversation presents both directions of a TCP connection as one
// ordered stream: the reassembled chunks of the originator and of the
// responder, and gaps, interleaved in causal order, ending with how the
// connection ended.
//
// Causal order means a chunk of one side comes after every chunk of the
// other side that it acknowledges, even when the capture shows them the
// other way round (a response captured before the last segment of its
// request). Chunks that need not wait come in capture-time order.
//
// # Usage
//
// Per connection, inside a tracker, with a handler of your own:
//
//	cfg := flowscope.Config{NewStream: conversation.Handle(func(c *conversation.Conn) flowscope.StreamHandler {
//		return myHandler(c) // sees causally ordered chunks of both sides
//	})}
//
// For all connections, as a stage of events:
//
//	flows, convs, stats := conversation.Track(g, "track", packets, workers, nil)
//
// # Memory
//
// A chunk that must wait for the other side is copied and held; at most
// MaxHeld bytes per connection (beyond that the oldest waits are given up
// and chunks go out in capture order). Bytes handed to a handler are valid
// until it returns; events from Track own their bytes.
package conversation

import (
	"net/netip"

	"github.com/flowscope-go/flowscope"
)

// MaxHeld is how many bytes one connection may hold while chunks wait for
// the other side.
const MaxHeld = 1 << 20

// Conn identifies a connection.
type Conn struct {
	// UID is the connection's uid, as in its conn record.
	UID        string
	Orig, Resp netip.AddrPort
	// Start is the time of the first packet, Unix nanoseconds.
	Start int64
}

func newConn(rec *flowscope.FlowRecord) *Conn {
	return &Conn{
		UID:   rec.UID(),
		Orig:  netip.AddrPortFrom(rec.Orig.Addr.Netip(), rec.Orig.Port),
		Resp:  netip.AddrPortFrom(rec.Resp.Addr.Netip(), rec.Resp.Port),
		Start: rec.First,
	}
}

// Orderer puts the chunks of one connection in causal order and passes
// them on to a handler. It is itself a flowscope.StreamHandler: give it
// the reassembler's chunks. The zero Orderer is not usable; see NewOrderer.
// An Orderer is not safe for concurrent use.
type Orderer struct {
	h       flowscope.StreamHandler
	waiting [2][]flowscope.Chunk // copied chunks per side, in stream order
	held    int
	emitted [2]uint64 // stream offset up to which each side has been passed on
}

// NewOrderer returns an Orderer that passes chunks to h in causal order.
func NewOrderer(h flowscope.StreamHandler) *Orderer { return &Orderer{h: h} }

// Chunk takes the next chunk of one side. It passes it on at once when
// nothing of its side is waiting and the other side has been passed on as
// far as the chunk acknowledges; otherwise it keeps a copy.
func (o *Orderer) Chunk(c *flowscope.Chunk) {
	s := c.Side
	if len(o.waiting[s]) == 0 && o.ready(c) {
		o.pass(c)
	} else {
		k := *c
		if c.Bytes != nil {
			k.Bytes = append([]byte(nil), c.Bytes...)
			o.held += len(k.Bytes)
		}
		o.waiting[s] = append(o.waiting[s], k)
	}
	o.release(false)
}

// End passes on every chunk still waiting, in capture order where the
// other side never caught up, then ends the handler.
func (o *Orderer) End(rec *flowscope.FlowRecord) {
	o.release(true)
	o.h.End(rec)
}

// ready reports whether c may be passed on: gaps never wait, and bytes
// wait until the other side has been passed on up to what they
// acknowledge.
func (o *Orderer) ready(c *flowscope.Chunk) bool {
	return c.Gap > 0 || c.Ack <= o.emitted[c.Side.Other()]
}

func (o *Orderer) pass(c *flowscope.Chunk) {
	o.emitted[c.Side] = c.Offset + uint64(len(c.Bytes)) + c.Gap
	o.h.Chunk(c)
}

// release passes on waiting chunks while some are ready: of two ready
// heads, the earlier captured goes first. With force (at the end), or
// when too much is held, the earliest head goes even if not ready.
func (o *Orderer) release(force bool) {
	for {
		var pick = -1
		for s := range o.waiting {
			if len(o.waiting[s]) == 0 || !o.ready(&o.waiting[s][0]) {
				continue
			}
			if pick < 0 || o.waiting[s][0].Time < o.waiting[pick][0].Time {
				pick = s
			}
		}
		if pick < 0 && (force || o.held > MaxHeld) {
			for s := range o.waiting {
				if len(o.waiting[s]) > 0 && (pick < 0 || o.waiting[s][0].Time < o.waiting[pick][0].Time) {
					pick = s
				}
			}
		}
		if pick < 0 {
			return
		}
		c := o.waiting[pick][0]
		o.waiting[pick] = o.waiting[pick][1:]
		if len(o.waiting[pick]) == 0 {
			o.waiting[pick] = nil
		}
		o.held -= len(c.Bytes)
		o.pass(&c)
	}
}

var _ flowscope.StreamHandler = (*Orderer)(nil)

// Ordered wraps a stream handler factory so that each handler it makes
// receives its connection's chunks in causal order.
func Ordered(newStream flowscope.NewStreamFunc) flowscope.NewStreamFunc {
	return func(rec *flowscope.FlowRecord) flowscope.StreamHandler {
		h := newStream(rec)
		if h == nil {
			return nil
		}
		return NewOrderer(h)
	}
}

// Handle returns a flowscope.NewStreamFunc that gives each TCP connection
// the handler newHandler makes for it, fed in causal order. newHandler
// may return nil to leave a connection alone.
func Handle(newHandler func(c *Conn) flowscope.StreamHandler) flowscope.NewStreamFunc {
	return func(rec *flowscope.FlowRecord) flowscope.StreamHandler {
		h := newHandler(newConn(rec))
		if h == nil {
			return nil
		}
		return NewOrderer(h)
	}
}
