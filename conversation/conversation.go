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

// MaxHeld is how many bytes one connection may hold while chunks wait
// for the other side.
const MaxHeld = flowscope.MaxHeld

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

// Orderer puts the chunks of one connection in causal order; see
// flowscope.Orderer.
type Orderer = flowscope.Orderer

// NewOrderer returns an Orderer that passes chunks to h in causal order.
func NewOrderer(h flowscope.StreamHandler) *Orderer { return flowscope.NewOrderer(h) }

// Ordered wraps a stream handler factory so that each handler it makes
// receives its connection's chunks in causal order.
func Ordered(newStream flowscope.NewStreamFunc) flowscope.NewStreamFunc {
	return flowscope.Ordered(newStream)
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
