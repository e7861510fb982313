package stage

import (
	"context"
	"sync"

	"github.com/flowscope-go/flowscope"
	"github.com/flowscope-go/flowscope/flowkey"
)

// TrackConfig configures Track. The zero TrackConfig means one shard and
// a Driver with defaults and no parsers; a nil *TrackConfig passed to
// Track does too.
type TrackConfig struct {
	// Workers is the number of shards a single input is split over, by
	// flow. Zero means one. When Track is given several inputs (already
	// split by flow), each is a shard of its own and Workers is not used.
	Workers int
	// Driver configures each shard's Driver: its parsers, timeouts and
	// bounds. The reassembly budget (ReassemblyBudget), the flows'
	// memory (MemoryBudget) and the flow table (MaxFlows) are for the
	// whole stage: each shard gets an equal part of them (so a shard given more than its share of flows evicts
	// before the stage holds MaxFlows).
	Driver flowscope.Config
	// Final is the end reason of the flows still open at the end of
	// input. Zero means EndOfInput; a live capture that was stopped gives
	// EndShutdown.
	Final flowscope.EndReason
	// Shed, for live capture, lets a shard that falls behind its input
	// shed load (flowscope.Shed): when its input queue has been full (all
	// but the batch it takes) for shedAfter batches in a row it sheds one
	// level more (first the
	// parsers of new flows, then new flows), and when the queue has been
	// empty for recoverAfter batches one level less. Files never shed:
	// their reading waits instead.
	Shed bool
}

// The shedding policy's patience, in input batches.
const (
	shedAfter    = 16
	recoverAfter = 64
)

// Track adds flow tracking: one Driver per shard, each a loop over its
// packets, and one output of the records they make, in batches.
//
// Given one input, Track splits it over Workers shards by the symmetric
// hash of each packet's flow (for 5-tuple and IP-pair keys, of its
// outermost address pair, so that a tunnel and the flows inside it, and
// the fragments of a datagram, meet in one shard), and merges the
// shards' records back in a deterministic order: the same input gives
// the same records in the same order, and the multiset of records does
// not depend on the number of shards (unless MaxFlows is reached). Each
// shard sends one batch per input batch, and every shard sees every
// input batch's watermark, so that idle flows expire at the same packet
// time on every shard.
//
// Given several inputs, such as the sockets of a live capture's fanout
// group (the kernel hashes each flow to one socket), each input is a
// shard, and their records are merged in the order they come, which
// differs from run to run.
//
// At the end of input every shard flushes its open flows with reason
// Final; on cancellation nothing is flushed.
func Track[K flowscope.Key](g *Graph, name string, ext flowscope.Extractor[K], cfg *TrackConfig,
	ins ...Port[*Batch[flowscope.Packet]]) (Port[*Batch[flowscope.Record]], *TrackStats) {
	var c TrackConfig
	if cfg != nil {
		c = *cfg
	}
	if len(ins) == 0 {
		panic("stage.Track: no input")
	}
	if c.Final == flowscope.NotEnded {
		c.Final = flowscope.EndOfInput
	}
	shardIn, merge := ins, Merge[*Batch[flowscope.Record]]
	if len(ins) == 1 {
		merge = MergeInOrder[*Batch[flowscope.Record]]
		if w := max(c.Workers, 1); w > 1 {
			shardIn = Partition(g, name+"/partition", ins[0], w, shardOf(ext, w))
		}
	}
	n := len(shardIn)
	dc := c.Driver
	budget := dc.ReassemblyBudget
	if budget <= 0 {
		budget = flowscope.DefaultReassemblyBudget
	}
	dc.ReassemblyBudget = max(budget/n, 1)
	maxFlows := dc.MaxFlows
	if maxFlows <= 0 {
		maxFlows = flowscope.DefaultMaxFlows
	}
	dc.MaxFlows = max(maxFlows/n, 1)
	if dc.MemoryBudget > 0 {
		dc.MemoryBudget = max(dc.MemoryBudget/n, 1)
	}
	stats := &TrackStats{shards: make([]flowscope.Stats, n), open: make([]int, n), buffer: make([]int, n)}
	outs := make([]Port[*Batch[flowscope.Record]], n)
	for i, in := range shardIn {
		outs[i] = trackShard(g, name, in, i, flowscope.NewDriver(ext, &dc), stats, c.Final, c.Shed)
	}
	if n == 1 {
		return outs[0], stats
	}
	return merge(g, name+"/merge", outs...), stats
}

// shardOf returns the partition function of Track's shards.
func shardOf[K flowscope.Key](ext flowscope.Extractor[K], workers int) func(p *flowscope.Packet) int {
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
	return func(p *flowscope.Packet) int {
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
		if _, ok := ext.Extract(&d, &k); !ok {
			return 0
		}
		return int(k.Hash() % uint64(workers))
	}
}

// flushFlows is how many flows a shard ends per output batch at the end
// of its input.
const flushFlows = 4096

// trackShard runs one Driver: one output batch per input batch (possibly
// empty; more when a jump of the clock times out many flows at once),
// then batches of flushed records.
func trackShard[K flowscope.Key](g *Graph, name string, in Port[*Batch[flowscope.Packet]], shard int,
	d *flowscope.Driver[K], stats *TrackStats, final flowscope.EndReason, shed bool) Port[*Batch[flowscope.Record]] {
	predecodeFor(in)
	src := In(in, name)
	out := NewPort[*Batch[flowscope.Record]](g, name)
	pool := NewPool[flowscope.Record](2*g.buffer+2, 64)
	g.Add(name, func(ctx context.Context) error {
		defer close(out.ch)
		defer func() { stats.set(shard, d.Stats(), d.Len(), d.Buffered()) }()
		var level flowscope.Shed
		full, empty := 0, 0 // batches in a row that found the queue so
		for b := range src {
			if shed && cap(src) > 0 {
				// Behind: with this batch taken, the queue is still as full
				// as it can be (its sender, blocked, may not have put the
				// next one in yet).
				behind := len(src) > 0 && len(src) >= cap(src)-1
				full, empty = streak(full, behind), streak(empty, len(src) == 0)
				switch {
				case full >= shedAfter && level < flowscope.ShedFlows:
					level, full = level+1, 0
					d.SetShed(level)
				case empty >= recoverAfter && level > flowscope.ShedNone:
					level, empty = level-1, 0
					d.SetShed(level)
				}
			}
			o := pool.Get()
			if pre := b.pre.of(b); pre != nil {
				for i := range b.Items {
					o.Items = d.TrackDecoded(&b.Items[i], &pre.d[i], pre.err[i], o.Items)
				}
			} else {
				for i := range b.Items {
					o.Items = d.Track(&b.Items[i], o.Items)
				}
			}
			wm := b.Watermark
			o.Items = d.Advance(wm, o.Items)
			for d.Expiring() {
				// A jump of the clock timed out more flows than one call
				// ends: their records go out a part a batch.
				o.Watermark = wm
				if err := send(ctx, out.ch, o); err != nil {
					o.Release()
					b.Release()
					return err
				}
				o = pool.Get()
				o.Items = d.Advance(wm, o.Items)
			}
			stats.set(shard, d.Stats(), d.Len(), d.Buffered())
			o.Watermark = wm
			b.Release()
			// o belongs to the receiver once sent: use wm, not o, after.
			if err := send(ctx, out.ch, o); err != nil {
				o.Release()
				return err
			}
		}
		// Cancelled: the input ended early, and the flows still open are
		// left as they are, not flushed.
		if err := ctx.Err(); err != nil {
			return err
		}
		// The open flows end a part at a time, so that their records do
		// not pile up in one batch.
		for more := true; more; {
			o := pool.Get()
			o.Items, more = d.FlushSome(final, flushFlows, o.Items)
			o.Watermark = d.Now()
			if err := send(ctx, out.ch, o); err != nil {
				o.Release()
				return err
			}
		}
		return nil
	})
	return out
}

// streak counts on while cond holds, from 0 again when it does not.
func streak(n int, cond bool) int {
	if cond {
		return n + 1
	}
	return 0
}

// TrackStats gives the counters of the Drivers behind a Track stage.
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

func (s *TrackStats) set(i int, st flowscope.Stats, open, buffered int) {
	s.mu.Lock()
	s.shards[i] = st
	s.open[i], s.buffer[i] = open, buffered
	s.mu.Unlock()
}

// Select adds a stage that splits a port of records by Go type: the
// records of type T go to the first port, all others to the second, each
// in its order, in batches carrying the input's watermarks (one batch on
// each port per input batch). Both ports must be consumed; Drop consumes
// one that is not wanted.
func Select[T flowscope.Record](g *Graph, name string, in Port[*Batch[flowscope.Record]]) (Port[*Batch[T]], Port[*Batch[flowscope.Record]]) {
	src := In(in, name)
	match, rest := NewPort[*Batch[T]](g, name), NewPort[*Batch[flowscope.Record]](g, name)
	mpool, rpool := NewPool[T](2*g.buffer+2, 64), NewPool[flowscope.Record](2*g.buffer+2, 64)
	g.Add(name, func(ctx context.Context) error {
		defer close(match.ch)
		defer close(rest.ch)
		for b := range src {
			m, r := mpool.Get(), rpool.Get()
			for _, rec := range b.Items {
				if v, ok := rec.(T); ok {
					m.Items = append(m.Items, v)
				} else {
					r.Items = append(r.Items, rec)
				}
			}
			m.Watermark, r.Watermark = b.Watermark, b.Watermark
			b.Release()
			if err := send(ctx, match.ch, m); err != nil {
				m.Release()
				r.Release()
				return err
			}
			if err := send(ctx, rest.ch, r); err != nil {
				r.Release()
				return err
			}
		}
		return nil
	})
	return match, rest
}

// Drop adds a stage that consumes a port and releases what it carries.
func Drop[T any](g *Graph, name string, in Port[T]) {
	src := In(in, name)
	g.Add(name, func(context.Context) error {
		for v := range src {
			if r, ok := any(v).(releaser); ok {
				r.Release()
			}
		}
		return nil
	})
}
