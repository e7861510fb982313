package stage

import (
	"context"
)

// Generate adds a source stage: f emits items until it returns. The
// output is closed when f returns; a non-nil error stops the graph.
func Generate[T any](g *Graph, name string, f func(ctx context.Context, emit func(T) error) error) Port[T] {
	out := NewPort[T](g, name)
	g.Add(name, func(ctx context.Context) error {
		defer close(out.ch)
		return f(ctx, func(v T) error { return send(ctx, out.ch, v) })
	})
	return out
}

// Map adds a stage that applies f to every item. An error from f stops
// the graph.
func Map[A, B any](g *Graph, name string, in Port[A], f func(A) (B, error)) Port[B] {
	src := In(in, name)
	out := NewPort[B](g, name)
	g.Add(name, func(ctx context.Context) error {
		defer close(out.ch)
		for v := range src {
			w, err := f(v)
			if err != nil {
				return err
			}
			if err := send(ctx, out.ch, w); err != nil {
				return err
			}
		}
		return nil
	})
	return out
}

// Filter adds a stage that passes on the items for which keep is true.
// Dropped items that are batches are released.
func Filter[T any](g *Graph, name string, in Port[T], keep func(T) bool) Port[T] {
	src := In(in, name)
	out := NewPort[T](g, name)
	g.Add(name, func(ctx context.Context) error {
		defer close(out.ch)
		for v := range src {
			if !keep(v) {
				if r, ok := any(v).(releaser); ok {
					r.Release()
				}
				continue
			}
			if err := send(ctx, out.ch, v); err != nil {
				return err
			}
		}
		return nil
	})
	return out
}

// FilterItems adds a stage that keeps, within each batch, the items for
// which keep is true. Batches are filtered in place, so the input batch
// must not be shared (it must not come from a Tee).
func FilterItems[T any](g *Graph, name string, in Port[*Batch[T]], keep func(*T) bool) Port[*Batch[T]] {
	return Map(g, name, in, func(b *Batch[T]) (*Batch[T], error) {
		n := 0
		for i := range b.Items {
			if keep(&b.Items[i]) {
				b.Items[n] = b.Items[i]
				n++
			}
		}
		clear(b.Items[n:])
		b.Items = b.Items[:n]
		return b, nil
	})
}

// Tee adds a stage that hands every item to n consumers. Batches are not
// copied: each consumer gets the same batch with its own reference, and
// none may modify it.
func Tee[T any](g *Graph, name string, in Port[T], n int) []Port[T] {
	if n < 1 {
		panic("stage.Tee: n must be >= 1")
	}
	src := In(in, name)
	outs := make([]Port[T], n)
	for i := range outs {
		outs[i] = NewPort[T](g, name)
	}
	g.Add(name, func(ctx context.Context) error {
		defer func() {
			for _, o := range outs {
				close(o.ch)
			}
		}()
		for v := range src {
			if r, ok := any(v).(interface{ Retain(int) }); ok {
				r.Retain(n - 1)
			}
			for i, o := range outs {
				if err := send(ctx, o.ch, v); err != nil {
					// Consumers that will not get v do not release it.
					if r, ok := any(v).(releaser); ok {
						for range n - i {
							r.Release()
						}
					}
					return err
				}
			}
		}
		return nil
	})
	return outs
}

// Merge adds a stage that forwards the items of all inputs, in the order
// they arrive. It ends when every input is closed.
func Merge[T any](g *Graph, name string, ins ...Port[T]) Port[T] {
	srcs := inAll(ins, name)
	out := NewPort[T](g, name)
	g.Add(name, func(ctx context.Context) error {
		defer close(out.ch)
		errs := make(chan error, len(srcs))
		for _, src := range srcs {
			go func() {
				for v := range src {
					if err := send(ctx, out.ch, v); err != nil {
						errs <- err
						return
					}
				}
				errs <- nil
			}()
		}
		var first error
		for range srcs {
			if err := <-errs; err != nil && first == nil {
				first = err
			}
		}
		return first
	})
	return out
}

// MergeInOrder adds a stage that takes one item from each input in turn,
// round robin, until all are closed. Fed by stages that emit exactly one
// output per input (such as the shards behind Partition), it restores a
// deterministic order: the same input gives the same output sequence.
func MergeInOrder[T any](g *Graph, name string, ins ...Port[T]) Port[T] {
	srcs := inAll(ins, name)
	out := NewPort[T](g, name)
	g.Add(name, func(ctx context.Context) error {
		defer close(out.ch)
		open := len(srcs)
		closed := make([]bool, len(srcs))
		for open > 0 {
			for i, src := range srcs {
				if closed[i] {
					continue
				}
				var v T
				var ok bool
				select {
				case v, ok = <-src:
				case <-ctx.Done():
					return ctx.Err()
				}
				if !ok {
					closed[i] = true
					open--
					continue
				}
				if err := send(ctx, out.ch, v); err != nil {
					return err
				}
			}
		}
		return nil
	})
	return out
}

// Partition adds a stage that splits each input batch into n batches, one
// per shard, by shard(item) (which must return a value in [0, n)). Every
// shard receives a batch for every input batch, possibly empty, carrying
// the input's watermark: shards see time advance together. Items are
// copied into the shard batches; bytes they point to stay in the input
// batch, which is released when every shard released its part.
func Partition[T any](g *Graph, name string, in Port[*Batch[T]], n int, shard func(*T) int) []Port[*Batch[T]] {
	if n < 1 {
		panic("stage.Partition: n must be >= 1")
	}
	outs := make([]Port[*Batch[T]], n)
	for i := range outs {
		outs[i] = NewPort[*Batch[T]](g, name)
	}
	sp := newSplitter(g, outs, shard)
	if f, ok := in.state.fuse.(*fusion[T]); ok && in.state.consumer == "" {
		// The producer splits its own batches: the packets are split on
		// the core that has just read them, and a hand-off is saved.
		In(in, name)
		f.split = sp
		return outs
	}
	src := In(in, name)
	g.Add(name, func(ctx context.Context) error {
		defer sp.close()
		for b := range src {
			if err := sp.split(ctx, b); err != nil {
				return err
			}
		}
		return nil
	})
	return outs
}

// splitter divides batches among ports by a shard function.
type splitter[T any] struct {
	outs  []Port[*Batch[T]]
	pools []*Pool[T]
	shard func(*T) int
	parts []*Batch[T]
}

func newSplitter[T any](g *Graph, outs []Port[*Batch[T]], shard func(*T) int) *splitter[T] {
	sp := &splitter[T]{outs: outs, shard: shard, parts: make([]*Batch[T], len(outs))}
	for range outs {
		sp.pools = append(sp.pools, NewPool[T](2*g.buffer+2, 64))
	}
	return sp
}

// split sends b's items to their ports, in sub-batches that keep b alive
// until all are released.
func (sp *splitter[T]) split(ctx context.Context, b *Batch[T]) error {
	n := len(sp.outs)
	parts := sp.parts
	for i := range parts {
		p := sp.pools[i].Get()
		p.Watermark = b.Watermark
		p.parent = b
		parts[i] = p
	}
	b.Retain(n - 1)
	for i := range b.Items {
		s := sp.shard(&b.Items[i])
		parts[s].Items = append(parts[s].Items, b.Items[i])
	}
	for i, p := range parts {
		if err := send(ctx, sp.outs[i].ch, p); err != nil {
			for _, q := range parts[i:] {
				q.Release()
			}
			return err
		}
	}
	return nil
}

func (sp *splitter[T]) close() {
	for _, o := range sp.outs {
		close(o.ch)
	}
}

// fusion is what a producing stage offers a Partition of its port: set
// split, and the producer splits its batches itself.
type fusion[T any] struct {
	split *splitter[T]
	// predecode: the consumer is a flow tracker, and the producer decodes
	// each packet's headers for it (see predecode).
	predecode bool
}

// inAll marks every port in ins as consumed by the stage named by.
func inAll[T any](ins []Port[T], by string) []<-chan T {
	srcs := make([]<-chan T, len(ins))
	for i, p := range ins {
		srcs[i] = In(p, by)
	}
	return srcs
}
