package sink

import (
	"context"
	"errors"
)

// Sink consumes batches of events of type T.
//
// Write is called with each batch in order, from one goroutine; the items
// are borrowed and valid only until Write returns. Flush is called once at
// the end of input: the sink writes out anything buffered. Neither closes
// an underlying writer; its owner does. An error from either stops the
// pipeline.
type Sink[T any] interface {
	Write(ctx context.Context, items []T) error
	Flush() error
}

// Func adapts a callback to the Sink interface. The callback must not keep
// items past its return. Flush does nothing.
type Func[T any] func(ctx context.Context, items []T) error

// Write calls f.
func (f Func[T]) Write(ctx context.Context, items []T) error { return f(ctx, items) }

// Flush does nothing.
func (f Func[T]) Flush() error { return nil }

// Chan is a sink that sends each item on C, blocking (with
// backpressure) until the receiver takes it or ctx is cancelled. Items
// are sent by value, so the receiver owns what it gets. Chan does not
// close C; close it after the pipeline's Run returns.
type Chan[T any] struct {
	C chan<- T
}

// Write sends items on C.
func (c Chan[T]) Write(ctx context.Context, items []T) error {
	for _, it := range items {
		select {
		case c.C <- it:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// Flush does nothing.
func (c Chan[T]) Flush() error { return nil }

// Tee writes every batch to each of its sinks in turn, and flushes them
// all. A write error stops at the failing sink; Flush flushes every sink
// and joins their errors.
type Tee[T any] []Sink[T]

// Write writes items to every sink.
func (t Tee[T]) Write(ctx context.Context, items []T) error {
	for _, s := range t {
		if err := s.Write(ctx, items); err != nil {
			return err
		}
	}
	return nil
}

// Flush flushes every sink.
func (t Tee[T]) Flush() error {
	var errs []error
	for _, s := range t {
		if err := s.Flush(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

var (
	_ Sink[int] = Func[int](nil)
	_ Sink[int] = Chan[int]{}
	_ Sink[int] = Tee[int]{}
)
