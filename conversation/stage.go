package conversation

import (
	"github.com/flowscope-go/flowscope"
	"github.com/flowscope-go/flowscope/flowkey"
	"github.com/flowscope-go/flowscope/stage"
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

// Event is one step of one connection's conversation. Events of one
// connection arrive in causal order; events of different connections
// interleave. An Event owns its Bytes and Record.
type Event struct {
	Conn   *Conn
	Kind   Kind
	Side   flowscope.Side
	Offset uint64
	Bytes  []byte
	Gap    uint64
	Time   int64 // Unix nanoseconds
	Record *flowscope.FlowRecord
}

// Track adds 5-tuple flow tracking with TCP reassembly over workers
// shards, like stage.TrackFlows, and returns, beside the flow events, the
// conversation events of every TCP connection. cfg (nil means defaults)
// may set its own NewStream: those handlers get the raw per-side chunks as
// well. The reassembly budget bounds the whole stage, split between the
// shards. Both outputs must be consumed.
func Track(g *stage.Graph, name string, in stage.Port[*stage.Batch[flowscope.Packet]], workers int, cfg *flowscope.Config) (
	stage.Port[*stage.Batch[flowscope.FlowEvent]], stage.Port[*stage.Batch[Event]], *stage.TrackStats) {
	base := stage.ShardConfig(cfg, workers) // the reassembly budget is split between shards
	ext := flowkey.FiveTupleExtractor{}
	return stage.TrackSide(g, name, in, workers, ext, func(emit func(Event)) *flowscope.Tracker[flowkey.FiveTuple] {
		c := base
		own := Handle(func(conn *Conn) flowscope.StreamHandler { return &emitter{conn: conn, emit: emit} })
		c.NewStream = func(rec *flowscope.FlowRecord) flowscope.StreamHandler {
			h := own(rec)
			if base.NewStream == nil {
				return h
			}
			return flowscope.TeeStreams(h, base.NewStream(rec))
		}
		return flowscope.NewTracker(ext, &c)
	})
}

// emitter turns one connection's ordered chunks into events.
type emitter struct {
	conn *Conn
	emit func(Event)
}

func (e *emitter) Chunk(c *flowscope.Chunk) {
	ev := Event{Conn: e.conn, Kind: Data, Side: c.Side, Offset: c.Offset, Gap: c.Gap, Time: c.Time}
	if c.Gap > 0 {
		ev.Kind = Gap
	} else {
		ev.Bytes = append([]byte(nil), c.Bytes...) // events outlive the packet
	}
	e.emit(ev)
}

func (e *emitter) End(rec *flowscope.FlowRecord) {
	r := *rec
	e.emit(Event{Conn: e.conn, Kind: End, Time: rec.Last, Record: &r})
}
