package stage

import (
	"context"
	"slices"
	"sync"

	"github.com/flowscope-go/flowscope"
	"github.com/flowscope-go/flowscope/flowkey"
)

// TrackStats gives the counters of the trackers behind a Track stage.
// Each shard publishes its figures after every input batch, so they can
// be read while the graph runs (a live capture's periodic report).
type TrackStats struct {
	mu     sync.Mutex
	shards []flowscope.Stats
	open   []int
	buffer []int
}

// Stats returns the counters summed over all shards. The figures are
// complete once the graph's Run has returned.
func (s *TrackStats) Stats() flowscope.Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	var sum flowscope.Stats
	for _, st := range s.shards {
		sum.Add(st)
	}
	return sum
}

// Open returns the flows open and the bytes held for TCP reassembly,
// summed over the shards, as of each shard's last batch.
func (s *TrackStats) Open() (flows, buffered int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.open {
		flows += s.open[i]
		buffered += s.buffer[i]
	}
	return flows, buffered
}

func newTrackStats(n int) *TrackStats {
	return &TrackStats{shards: make([]flowscope.Stats, n), open: make([]int, n), buffer: make([]int, n)}
}

func (s *TrackStats) set(i int, st flowscope.Stats, open, buffered int) {
	s.mu.Lock()
	s.shards[i] = st
	s.open[i], s.buffer[i] = open, buffered
	s.mu.Unlock()
}

// Track adds flow tracking over workers shards. With more than one worker
// it partitions packets by the symmetric hash of their flow key, so a flow
// always lands on the same shard, runs one tracker per shard, and merges
// the shards' events back in a deterministic order. newTracker is called
// once per shard. At the end of input every shard flushes its open flows
// with reason EndOfInput; on cancellation nothing is flushed.
//
// The multiset of records does not depend on workers, with one exception:
// MaxFlows bounds each shard's table separately.
func Track[K flowscope.Key](g *Graph, name string, in Port[*Batch[flowscope.Packet]], workers int,
	ext flowscope.Extractor[K], newTracker func() *flowscope.Tracker[K]) (Port[*Batch[flowscope.FlowEvent]], *TrackStats) {
	flows, _, stats := track[K, struct{}](g, name, in, workers, ext, func(func(struct{})) *flowscope.Tracker[K] { return newTracker() }, false)
	return flows, stats
}

// TrackSide is Track with a second, typed output per shard: newTracker
// receives an emit function that the tracker's callbacks (stream handlers)
// call, from the shard's goroutine, with items of their own. The items a
// shard emits while it processes an input batch are sent after that
// batch's flow events, and the shards' side outputs are merged in the same
// deterministic order as the events. Items must own their memory: they
// outlive the packets.
func TrackSide[K flowscope.Key, S any](g *Graph, name string, in Port[*Batch[flowscope.Packet]], workers int,
	ext flowscope.Extractor[K], newTracker func(emit func(S)) *flowscope.Tracker[K]) (Port[*Batch[flowscope.FlowEvent]], Port[*Batch[S]], *TrackStats) {
	return track(g, name, in, workers, ext, newTracker, true)
}

// TrackSideSharded is TrackSide over inputs that are already split by
// flow, one per shard, such as the sockets of a live capture's fanout
// group (the kernel hashes each flow to one socket): there is no
// partition, and the shards' outputs are merged in the order they come,
// which differs from run to run. At the end of input every shard flushes
// its open flows with reason final (EndShutdown for a capture that was
// stopped).
func TrackSideSharded[K flowscope.Key, S any](g *Graph, name string, ins []Port[*Batch[flowscope.Packet]], final flowscope.EndReason,
	newTracker func(emit func(S)) *flowscope.Tracker[K]) (Port[*Batch[flowscope.FlowEvent]], Port[*Batch[S]], *TrackStats) {
	stats := newTrackStats(len(ins))
	return shards(g, name, ins, newTracker, true, final, stats, Merge[*Batch[flowscope.FlowEvent]], Merge[*Batch[S]])
}

func track[K flowscope.Key, S any](g *Graph, name string, in Port[*Batch[flowscope.Packet]], workers int,
	ext flowscope.Extractor[K], newTracker func(emit func(S)) *flowscope.Tracker[K], withSide bool) (Port[*Batch[flowscope.FlowEvent]], Port[*Batch[S]], *TrackStats) {
	workers = max(workers, 1)
	stats := newTrackStats(workers)
	shardIn := []Port[*Batch[flowscope.Packet]]{in}
	if workers > 1 {
		var dec flowkey.Decoder
		var d flowkey.Decoded
		// k lives outside the closure: a local passed to the interface method
		// would move to the heap on every packet.
		var k K
		// Flows keyed by addresses shard by the outermost address pair, so
		// that fragments and tunnels stay with their flows; other keys by
		// their own hash.
		byPair := false
		switch any(ext).(type) {
		case flowkey.FiveTupleExtractor, flowkey.IPPairExtractor:
			byPair = true
		}
		shardIn = Partition(g, name+"/partition", in, workers, func(p *flowscope.Packet) int {
			// A packet that yields no key goes to shard 0, which counts it
			// as skipped; decode errors leave d empty enough for that.
			if byPair {
				h, ok := flowkey.FramePairHash(p.LinkType, p.Data, &dec, &d)
				if !ok {
					return 0
				}
				return int(h % uint64(workers))
			}
			_ = dec.Decode(p.LinkType, p.Data, &d)
			_, ok := ext.Extract(&d, &k)
			if !ok {
				return 0
			}
			return int(k.Hash() % uint64(workers))
		})
	}
	return shards(g, name, shardIn, newTracker, withSide, flowscope.EndOfInput, stats,
		MergeInOrder[*Batch[flowscope.FlowEvent]], MergeInOrder[*Batch[S]])
}

// shards runs one tracker per input and merges their outputs with the
// merge functions given.
func shards[K flowscope.Key, S any](g *Graph, name string, shardIn []Port[*Batch[flowscope.Packet]],
	newTracker func(emit func(S)) *flowscope.Tracker[K], withSide bool, final flowscope.EndReason, stats *TrackStats,
	mergeEvents func(*Graph, string, ...Port[*Batch[flowscope.FlowEvent]]) Port[*Batch[flowscope.FlowEvent]],
	mergeSide func(*Graph, string, ...Port[*Batch[S]]) Port[*Batch[S]]) (Port[*Batch[flowscope.FlowEvent]], Port[*Batch[S]], *TrackStats) {
	workers := len(shardIn)
	outs := make([]Port[*Batch[flowscope.FlowEvent]], workers)
	var sides []Port[*Batch[S]]
	for i, p := range shardIn {
		var side *sideOut[S]
		if withSide {
			side = &sideOut[S]{port: NewPort[*Batch[S]](g, name), pool: NewPool[S](2*g.buffer+2, 64)}
			side.cur = side.pool.Get()
			sides = append(sides, side.port)
		}
		var tr *flowscope.Tracker[K]
		if side != nil {
			tr = newTracker(side.emit)
		} else {
			tr = newTracker(nil)
		}
		outs[i] = trackShard(g, name, p, i, tr, stats, side, final)
	}
	var merged Port[*Batch[S]]
	if workers == 1 {
		if withSide {
			merged = sides[0]
		}
		return outs[0], merged, stats
	}
	if withSide {
		merged = mergeSide(g, name+"/merge-side", sides...)
	}
	return mergeEvents(g, name+"/merge", outs...), merged, stats
}

// sideOut collects the side items a shard emits between input batches.
type sideOut[S any] struct {
	port Port[*Batch[S]]
	pool *Pool[S]
	cur  *Batch[S]
}

func (s *sideOut[S]) emit(v S) { s.cur.Items = append(s.cur.Items, v) }

// send hands on the current side batch and starts a new one.
func (s *sideOut[S]) send(ctx context.Context, wm int64) error {
	b := s.cur
	b.Watermark = wm
	s.cur = s.pool.Get()
	if err := send(ctx, s.port.ch, b); err != nil {
		b.Release()
		return err
	}
	return nil
}

// TrackFlows adds 5-tuple flow tracking with the given tracker
// configuration (nil means defaults) over workers shards; see Track.
//
// The reassembly budget (Config.ReassemblyBudget) is for the whole stage:
// each shard gets an equal part of it.
func TrackFlows(g *Graph, name string, in Port[*Batch[flowscope.Packet]], workers int, cfg *flowscope.Config) (Port[*Batch[flowscope.FlowEvent]], *TrackStats) {
	ext := flowkey.FiveTupleExtractor{}
	shard := ShardConfig(cfg, workers)
	return Track(g, name, in, workers, ext, func() *flowscope.Tracker[flowkey.FiveTuple] {
		return flowscope.NewTracker(ext, &shard)
	})
}

// ShardConfig returns the tracker configuration for one of workers shards
// sharing cfg (nil means defaults): the same, with the reassembly budget
// split between the shards, so that it bounds the whole stage.
func ShardConfig(cfg *flowscope.Config, workers int) flowscope.Config {
	var c flowscope.Config
	if cfg != nil {
		c = *cfg
	}
	budget := c.ReassemblyBudget
	if budget <= 0 {
		budget = flowscope.DefaultReassemblyBudget
	}
	c.ReassemblyBudget = max(budget/max(workers, 1), 1)
	return c
}

// trackShard runs one tracker: one output batch per input batch (possibly
// empty), then one batch of flushed records.
func trackShard[K flowscope.Key, S any](g *Graph, name string, in Port[*Batch[flowscope.Packet]], shard int,
	tr *flowscope.Tracker[K], stats *TrackStats, side *sideOut[S], final flowscope.EndReason) Port[*Batch[flowscope.FlowEvent]] {
	predecodeFor(in)
	src := In(in, name)
	out := NewPort[*Batch[flowscope.FlowEvent]](g, name)
	pool := NewPool[flowscope.FlowEvent](2*g.buffer+2, 64)
	g.Add(name, func(ctx context.Context) error {
		defer close(out.ch)
		if side != nil {
			defer close(side.port.ch)
		}
		defer func() { stats.set(shard, tr.Stats(), tr.Len(), tr.Buffered()) }()
		for b := range src {
			o := pool.Get()
			if pre := b.pre.of(b); pre != nil {
				for i := range b.Items {
					o.Items = tr.TrackDecoded(&b.Items[i], &pre.d[i], pre.err[i], o.Items)
				}
			} else {
				for i := range b.Items {
					o.Items = tr.Track(&b.Items[i], o.Items)
				}
			}
			wm := b.Watermark
			o.Items = tr.Advance(wm, o.Items)
			stats.set(shard, tr.Stats(), tr.Len(), tr.Buffered())
			o.Watermark = wm
			b.Release()
			// o belongs to the receiver once sent: use wm, not o, after.
			if err := send(ctx, out.ch, o); err != nil {
				o.Release()
				return err
			}
			if side != nil {
				if err := side.send(ctx, wm); err != nil {
					return err
				}
			}
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		o := pool.Get()
		o.Items = slices.Grow(o.Items, tr.Len()) // one allocation, not a doubling series
		o.Items = tr.Flush(final, o.Items)
		o.Watermark = tr.Now()
		if err := send(ctx, out.ch, o); err != nil {
			o.Release()
			return err
		}
		if side != nil {
			return side.send(ctx, tr.Now())
		}
		return nil
	})
	return out
}

// Parsed is a message from a parser with the record of the flow it came
// from, as of the flow's first packet.
type Parsed[M any] struct {
	Flow *flowscope.FlowRecord
	Msg  M
}

// TrackParsers adds 5-tuple flow tracking over workers shards (like
// TrackFlows, cfg nil means defaults) and runs parsers on every flow:
// sessions on each TCP connection's reassembled streams, fed in causal
// order so that a response is parsed after its request, and datagrams on
// each UDP flow's payloads. Either factory may be nil; a factory may
// return nil to leave a flow alone, and parsers find their protocol by
// content, so a protocol on an unusual port is still parsed. To run
// several parsers on a flow, give a factory that tees them, with M a type
// that can hold each one's messages. The messages come out on the second
// port, in the same order on every run.
func TrackParsers[M any](g *Graph, name string, in Port[*Batch[flowscope.Packet]], workers int, cfg *flowscope.Config,
	sessions flowscope.SessionFactory[M], datagrams flowscope.DatagramFactory[M]) (Port[*Batch[flowscope.FlowEvent]], Port[*Batch[Parsed[M]]], *TrackStats) {
	shard := ShardConfig(cfg, workers)
	ext := flowkey.FiveTupleExtractor{}
	return TrackSide(g, name, in, workers, ext, func(emit func(Parsed[M])) *flowscope.Tracker[flowkey.FiveTuple] {
		c := shard
		if sessions != nil {
			c.NewStream = flowscope.Ordered(func(rec *flowscope.FlowRecord) flowscope.StreamHandler {
				p := sessions.NewSession(rec)
				if p == nil {
					return nil
				}
				flow := *rec
				return flowscope.SessionHandler(p, func(m M) { emit(Parsed[M]{Flow: &flow, Msg: m}) })
			})
		}
		if datagrams != nil {
			c.NewDatagram = func(rec *flowscope.FlowRecord) flowscope.DatagramHandler {
				p := datagrams.NewDatagram(rec)
				if p == nil {
					return nil
				}
				flow := *rec
				return flowscope.DatagramHandlerFor(p, func(m M) { emit(Parsed[M]{Flow: &flow, Msg: m}) })
			}
		}
		return flowscope.NewTracker(ext, &c)
	})
}
