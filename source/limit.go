package source

import (
	"context"
	"io"
	"sync/atomic"
)

// Limit stops the sources it wraps once they have delivered n packets
// between them (tcpdump's -c): the batch that reaches n is cut there and
// every wrapped source then ends with io.EOF.
type Limit struct {
	n, taken atomic.Uint64
	// onReach, when set, runs once when the limit is reached.
	onReach func()
	reached atomic.Bool
}

// NewLimit returns a limit of n packets; onReach (may be nil) runs once
// when it is reached, from the goroutine of the source that reached it.
func NewLimit(n uint64, onReach func()) *Limit {
	l := &Limit{onReach: onReach}
	l.n.Store(n)
	return l
}

// Stop ends the wrapped sources as if the limit had been reached: each
// returns io.EOF from its next ReadBatch (a Live source blocked in the
// kernel should be stopped too, for a prompt return). It does not run
// onReach.
func (l *Limit) Stop() {
	l.reached.Store(true)
	l.n.Store(0)
}

// Wrap returns src counted against the limit.
func (l *Limit) Wrap(src Source) Source { return &limited{src: src, l: l} }

type limited struct {
	src Source
	l   *Limit
	// packets and bytes count what this wrapper delivered (a batch cut
	// at the limit delivers less than the source read).
	packets, bytes atomic.Uint64
}

func (s *limited) ReadBatch(ctx context.Context, b *Batch) error {
	n := s.l.n.Load()
	if s.l.taken.Load() >= n {
		b.Reset()
		return io.EOF
	}
	err := s.src.ReadBatch(ctx, b)
	got := uint64(len(b.Packets))
	if got == 0 {
		return err
	}
	before := s.l.taken.Add(got) - got
	if before+got >= n {
		// This batch reaches the limit: keep what is left of it.
		b.Packets = b.Packets[:min(got, n-min(before, n))]
		if s.l.reached.CompareAndSwap(false, true) && s.l.onReach != nil {
			s.l.onReach()
		}
		s.count(b)
		if len(b.Packets) == 0 {
			return io.EOF
		}
		return nil
	}
	s.count(b)
	return err
}

func (s *limited) count(b *Batch) {
	s.packets.Add(uint64(len(b.Packets)))
	var n uint64
	for i := range b.Packets {
		n += uint64(len(b.Packets[i].Data))
	}
	s.bytes.Add(n)
}

// Stats returns the wrapped source's counters with Packets and Bytes
// counting what was delivered.
func (s *limited) Stats() Stats {
	st := s.src.Stats()
	st.Packets, st.Bytes = s.packets.Load(), s.bytes.Load()
	return st
}
func (s *limited) Close() error { return s.src.Close() }
