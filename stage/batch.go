package stage

import "sync/atomic"

// Batch is a slice of items passed between stages, with the buffer their
// bytes live in and a watermark. Batches come from a Pool and go back to
// it when their last reference is released.
type Batch[T any] struct {
	Items []T
	// Arena backs byte slices inside Items (packet data). Items that point
	// into it are valid until the batch is released.
	Arena []byte
	// Watermark is the capture time, in Unix nanoseconds, the input that
	// produced this batch has reached: the time of its last packet, or a
	// live source's wall time. It follows the capture's clock, back too.
	Watermark int64

	refs   atomic.Int32
	parent releaser
	pool   *Pool[T]
	pre    *predecoded // packets decoded by the stage that read them
}

type releaser interface{ Release() }

// Retain adds n references; each must be matched by a Release.
func (b *Batch[T]) Retain(n int) { b.refs.Add(int32(n)) }

// Release drops one reference. The last one returns the batch to its pool
// (and releases the batch it borrows from, if any).
func (b *Batch[T]) Release() {
	if b.refs.Add(-1) != 0 {
		return
	}
	if b.parent != nil {
		b.parent.Release()
		b.parent = nil
	}
	clear(b.Items) // drop references held by items
	b.Items = b.Items[:0]
	if b.pre != nil {
		b.pre.reset()
	}
	b.Arena = b.Arena[:0]
	b.Watermark = 0
	if b.pool != nil {
		b.pool.put(b)
	}
}

// Pool recycles batches. Get never blocks: when the pool is empty it
// allocates, so a consumer that holds batches cannot deadlock a producer;
// backpressure comes from the bounded channels, not from the pool.
type Pool[T any] struct {
	free    chan *Batch[T]
	itemCap int
}

// NewPool returns a pool that keeps up to size idle batches, each made
// with room for itemCap items.
func NewPool[T any](size, itemCap int) *Pool[T] {
	if size <= 0 || itemCap <= 0 {
		panic("stage.NewPool: size and itemCap must be > 0")
	}
	return &Pool[T]{free: make(chan *Batch[T], size), itemCap: itemCap}
}

// Get returns an empty batch holding one reference.
func (p *Pool[T]) Get() *Batch[T] {
	var b *Batch[T]
	select {
	case b = <-p.free:
	default:
		b = &Batch[T]{Items: make([]T, 0, p.itemCap), pool: p}
	}
	b.refs.Store(1)
	return b
}

func (p *Pool[T]) put(b *Batch[T]) {
	select {
	case p.free <- b:
	default:
	}
}
