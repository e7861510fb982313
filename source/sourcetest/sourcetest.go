// Package sourcetest checks that an implementation of source.Source keeps
// the interface's contract, the way testing/slogtest checks slog handlers.
// A live-capture source, a replay source or a user's own adapter can run
// it in a test:
//
//	func TestMySource(t *testing.T) {
//		sourcetest.Run(t, func(t *testing.T) source.Source { return openMine(t) }, 1000)
//	}
package sourcetest

import (
	"context"
	"errors"
	"io"
	"testing"
	"unsafe"

	"github.com/flowscope-go/flowscope/source"
)

// Run checks the sources returned by open (a fresh one per check) against
// the contract of source.Source. want is the number of packets a fresh
// source delivers before io.EOF, or -1 when it is not known (a live
// source); a source that never ends must return from ReadBatch when its
// context is cancelled.
func Run(t *testing.T, open func(t *testing.T) source.Source, want int) {
	t.Helper()
	t.Run("drain", func(t *testing.T) {
		src := open(t)
		defer src.Close()
		var b source.Batch
		total := 0
		for {
			err := src.ReadBatch(context.Background(), &b)
			checkBatch(t, &b)
			total += b.Len()
			if errors.Is(err, io.EOF) {
				if b.Len() != 0 {
					t.Errorf("io.EOF returned with %d packets in the batch", b.Len())
				}
				break
			}
			if err != nil {
				t.Fatalf("ReadBatch: %v", err)
			}
			if b.Len() == 0 && b.Now == 0 {
				t.Fatal("ReadBatch returned an empty batch without io.EOF (only a live source's clock tick, with Now set, may)")
			}
			if want >= 0 && total > want {
				t.Fatalf("delivered %d packets, more than the %d expected", total, want)
			}
		}
		if want >= 0 && total != want {
			t.Errorf("delivered %d packets, want %d", total, want)
		}
		if err := src.ReadBatch(context.Background(), &b); !errors.Is(err, io.EOF) || b.Len() != 0 {
			t.Errorf("ReadBatch after io.EOF = %v with %d packets, want io.EOF and none", err, b.Len())
		}
		if st := src.Stats(); want >= 0 && st.Packets != uint64(total) {
			t.Errorf("Stats().Packets = %d, delivered %d", st.Packets, total)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		src := open(t)
		defer src.Close()
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		var b source.Batch
		if err := src.ReadBatch(ctx, &b); !errors.Is(err, context.Canceled) {
			t.Errorf("ReadBatch with a cancelled context = %v, want context.Canceled", err)
		}
	})
	t.Run("close", func(t *testing.T) {
		src := open(t)
		if err := src.Close(); err != nil {
			t.Errorf("Close = %v", err)
		}
	})
}

// checkBatch verifies that every packet's bytes live in the batch's own
// buffer, so that they stay valid exactly as long as the batch, unless
// the source lends its own memory (b.Release set).
func checkBatch(t *testing.T, b *source.Batch) {
	t.Helper()
	lent := b.Release != nil
	lo := uintptr(unsafe.Pointer(unsafe.SliceData(b.Data)))
	hi := lo + uintptr(len(b.Data))
	for i, p := range b.Packets {
		if p.Time == 0 {
			t.Errorf("packet %d has no timestamp", i)
		}
		if len(p.Data) == 0 {
			continue
		}
		start := uintptr(unsafe.Pointer(unsafe.SliceData(p.Data)))
		if !lent && (start < lo || start+uintptr(len(p.Data)) > hi) {
			t.Fatalf("packet %d's data is not inside the batch's buffer: it would outlive or be overwritten apart from the batch", i)
		}
		if p.Length < len(p.Data) {
			t.Errorf("packet %d: original length %d shorter than its %d captured bytes", i, p.Length, len(p.Data))
		}
	}
}
