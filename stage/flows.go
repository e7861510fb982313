package stage

import (
	"context"
	"sync"

	"github.com/flowscope-go/flowscope"
	"github.com/flowscope-go/flowscope/flowkey"
)

// TrackStats gives the counters of the trackers behind a Track stage.
type TrackStats struct {
	mu     sync.Mutex
	shards []flowscope.Stats
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

func (s *TrackStats) set(i int, st flowscope.Stats) {
	s.mu.Lock()
	s.shards[i] = st
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
	workers = max(workers, 1)
	stats := &TrackStats{shards: make([]flowscope.Stats, workers)}
	if workers == 1 {
		return trackShard(g, name, in, 0, newTracker(), stats), stats
	}
	var dec flowkey.Decoder
	var d flowkey.Decoded
	// k lives outside the closure: a local passed to the interface method
	// would move to the heap on every packet.
	var k K
	parts := Partition(g, name+"/partition", in, workers, func(p *flowscope.Packet) int {
		// A packet that yields no key goes to shard 0, which counts it
		// as skipped; decode errors leave d empty enough for that.
		_ = dec.Decode(p.LinkType, p.Data, &d)
		_, ok := ext.Extract(&d, &k)
		if !ok {
			return 0
		}
		return int(k.Hash() % uint64(workers))
	})
	outs := make([]Port[*Batch[flowscope.FlowEvent]], workers)
	for i, p := range parts {
		outs[i] = trackShard(g, name, p, i, newTracker(), stats)
	}
	return MergeInOrder(g, name+"/merge", outs...), stats
}

// TrackFlows adds 5-tuple flow tracking with the given tracker
// configuration (nil means defaults) over workers shards; see Track.
func TrackFlows(g *Graph, name string, in Port[*Batch[flowscope.Packet]], workers int, cfg *flowscope.Config) (Port[*Batch[flowscope.FlowEvent]], *TrackStats) {
	ext := flowkey.FiveTupleExtractor{}
	return Track(g, name, in, workers, ext, func() *flowscope.Tracker[flowkey.FiveTuple] {
		return flowscope.NewTracker(ext, cfg)
	})
}

// trackShard runs one tracker: one output batch per input batch (possibly
// empty), then one batch of flushed records.
func trackShard[K flowscope.Key](g *Graph, name string, in Port[*Batch[flowscope.Packet]], shard int,
	tr *flowscope.Tracker[K], stats *TrackStats) Port[*Batch[flowscope.FlowEvent]] {
	src := In(in, name)
	out := NewPort[*Batch[flowscope.FlowEvent]](g, name)
	pool := NewPool[flowscope.FlowEvent](2*g.buffer+2, 64)
	g.Add(name, func(ctx context.Context) error {
		defer close(out.ch)
		defer func() { stats.set(shard, tr.Stats()) }()
		for b := range src {
			o := pool.Get()
			for i := range b.Items {
				o.Items = tr.Track(&b.Items[i], o.Items)
			}
			o.Items = tr.Advance(b.Watermark, o.Items)
			o.Watermark = b.Watermark
			b.Release()
			if err := send(ctx, out.ch, o); err != nil {
				o.Release()
				return err
			}
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		o := pool.Get()
		o.Items = tr.Flush(flowscope.EndOfInput, o.Items)
		o.Watermark = tr.Now()
		if err := send(ctx, out.ch, o); err != nil {
			o.Release()
			return err
		}
		return nil
	})
	return out
}
