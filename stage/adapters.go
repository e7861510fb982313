package stage

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/flowscope-go/flowscope"
	"github.com/flowscope-go/flowscope/flowkey"
	"github.com/flowscope-go/flowscope/sink"
	"github.com/flowscope-go/flowscope/source"
)

// FromSource adds a stage that reads src into batches of packets. Each
// batch's watermark is the highest packet time read so far. The stage
// ends at the source's io.EOF. A read error also ends the stream rather
// than cancelling the graph, so everything read before the fault is
// processed and flushed; Run then returns the error (see Graph.EndWith).
// It does not close src.
func FromSource(g *Graph, name string, src source.Source) Port[*Batch[flowscope.Packet]] {
	out := NewPort[*Batch[flowscope.Packet]](g, name)
	fuse := &fusion[flowscope.Packet]{}
	out.state.fuse = fuse
	pool := NewPool[flowscope.Packet](2*g.buffer+2, source.DefaultBatchPackets)
	g.Add(name, func(ctx context.Context) error {
		defer close(out.ch)
		emit := func(b *Batch[flowscope.Packet]) error { return send(ctx, out.ch, b) }
		if sp := fuse.split; sp != nil {
			// A Partition of this port runs here (see Partition).
			defer sp.close()
			emit = func(b *Batch[flowscope.Packet]) error { return sp.split(ctx, b) }
		}
		var wm int64
		var dec flowkey.Decoder
		for {
			b := pool.Get()
			sb := source.Batch{Packets: b.Items[:0], Data: b.Arena[:0]}
			err := src.ReadBatch(ctx, &sb)
			b.Items, b.Arena = sb.Packets, sb.Data
			if sb.Release != nil {
				// The packets lie in the source's memory: give it back
				// when the batch is released.
				b.parent = releaseFunc(sb.Release)
			}
			if fuse.predecode {
				predecode(b, &dec)
			}
			// The watermark is the time of the batch's last packet: the
			// capture's own clock, which the Drivers follow (back too,
			// when it is set back; see flowscope.Stats.TimeSteps).
			if n := len(b.Items); n > 0 {
				wm = b.Items[n-1].Time
			}
			// A live source's clock moves time on without packets.
			ticked := sb.Now > wm
			wm = max(wm, sb.Now)
			b.Watermark = wm
			if len(b.Items) > 0 || ticked {
				// Packets read before an error are still delivered.
				if serr := emit(b); serr != nil {
					if fuse.split == nil {
						b.Release() // split releases what it could not send
					}
					return serr
				}
			} else {
				b.Release()
			}
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				g.EndWith(name, err)
				return nil
			}
		}
	})
	return out
}

// releaseFunc adapts a function to the releaser a batch calls when its
// last reference goes.
type releaseFunc func()

func (f releaseFunc) Release() { f() }

// To adds a stage that writes every batch to s, releases it, and flushes
// s at the end of input. It does not flush on cancellation or error.
func To[T any](g *Graph, name string, in Port[*Batch[T]], s sink.Sink[T]) {
	src := In(in, name)
	g.Add(name, func(ctx context.Context) error {
		for b := range src {
			err := s.Write(ctx, b.Items)
			b.Release()
			if err != nil {
				return err
			}
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := s.Flush(); err != nil {
			return fmt.Errorf("flush: %w", err)
		}
		return nil
	})
}
