package source

import (
	"context"
	"io"

	"github.com/flowscope-go/flowscope"
)

// Source produces packets in batches.
//
// ReadBatch resets b and fills it with the next packets. It returns io.EOF
// when the input is exhausted and b is empty; any other error ends the
// stream, with b holding the packets read before it. A live source may
// return an empty batch without error to report the clock (b.Now). Cancelling ctx makes
// a blocked ReadBatch return ctx.Err(). Only one goroutine may call
// ReadBatch at a time; Stats may be called from any goroutine after
// ReadBatch returns. Close releases the source's files or sockets.
type Source interface {
	ReadBatch(ctx context.Context, b *Batch) error
	Stats() Stats
	Close() error
}

// Func adapts a function to the Source interface, for sources with no
// statistics and nothing to close: f fills the batch as ReadBatch does.
type Func func(ctx context.Context, b *Batch) error

// ReadBatch resets b and calls f.
func (f Func) ReadBatch(ctx context.Context, b *Batch) error {
	b.Reset()
	return f(ctx, b)
}

// Stats returns zero counters.
func (f Func) Stats() Stats { return Stats{} }

// Close does nothing.
func (f Func) Close() error { return nil }

// Append copies p and its data into b, for sources built on Func. It
// reports false, copying nothing, when b is full; an empty batch takes
// any packet.
func (b *Batch) Append(p flowscope.Packet) bool { return b.put(p, p.Data) }

// Stats counts what a source delivered.
type Stats struct {
	// Packets and Bytes (captured bytes) delivered.
	Packets, Bytes uint64
	// Dropped counts packets lost before the source could read them (a
	// live capture's kernel ring); always 0 for files.
	Dropped uint64
	// Filtered counts packets a capture filter rejected in user space
	// (see Filtered); a filter in the kernel rejects them uncounted.
	Filtered uint64
	// Files is the number of capture files opened so far.
	Files int
	// TimeClamped counts packets whose timestamp lies past what int64
	// nanoseconds hold (April 2262): they are given the latest time that
	// does.
	TimeClamped uint64
	// BadBlocks counts corrupt stretches of pcapng files passed over,
	// reading on at the next valid block (see Files.Skipped).
	BadBlocks uint64
}

// Batch is a reusable set of packets. The packets' Data slices point into
// the batch's own buffer: they are valid until the batch is Reset or
// refilled.
type Batch struct {
	Packets []flowscope.Packet
	// Data is the buffer the packets' bytes live in.
	Data []byte
	// Now is set by live sources: the wall-clock time (Unix ns) up to
	// which the batch reports what was captured. Time-driven work (idle
	// flows, unanswered queries) advances to it even when a batch comes
	// back empty. Zero for files, where packet time alone counts.
	Now int64
	// Release is set by sources that lend their own memory to the
	// packets instead of copying them into Data (a live capture's ring):
	// it must be called once when the packets are no longer used, which
	// gives the memory back. stage.FromSource calls it when the batch is
	// released; Reset calls it when a batch is reused without it.
	Release func()
}

// Default batch bounds: a batch is handed on when it holds
// DefaultBatchPackets packets or its buffer has no room for the next one.
// Handing a batch to another goroutine costs a wake-up of several
// microseconds on the project's machine; going from 256 to 1,024 packets a
// batch took the whole command from 230 to 172 ns a packet (bench/README.md),
// and 4,096 gained nothing more.
const (
	DefaultBatchPackets = 1024
	DefaultBatchBytes   = 2 << 20
)

// Reset empties b, keeping its memory.
func (b *Batch) Reset() {
	if b.Release != nil {
		b.Release()
		b.Release = nil
	}
	b.Packets = b.Packets[:0]
	b.Data = b.Data[:0]
	b.Now = 0
}

// Len returns the number of packets.
func (b *Batch) Len() int { return len(b.Packets) }

// put copies p, with data as its bytes, into b, unless b is full: it
// holds its maximum of packets, or its buffer lacks room for data (growing
// it would leave earlier packets pointing at the old buffer). An empty
// batch takes any packet, growing its buffer if it must.
func (b *Batch) put(p flowscope.Packet, data []byte) bool {
	if cap(b.Packets) == 0 {
		b.Packets = make([]flowscope.Packet, 0, DefaultBatchPackets)
	}
	if cap(b.Data) == 0 {
		b.Data = make([]byte, 0, DefaultBatchBytes)
	}
	free := cap(b.Data) - len(b.Data)
	if len(b.Packets) > 0 && (len(b.Packets) == cap(b.Packets) || free < len(data)) {
		return false
	}
	if free < len(data) {
		b.Data = make([]byte, 0, max(2*cap(b.Data), len(data)))
	}
	off := len(b.Data)
	b.Data = append(b.Data, data...)
	p.Data = b.Data[off:len(b.Data):len(b.Data)]
	b.Packets = append(b.Packets, p)
	return true
}

// Memory is a source over packets held in memory, delivered in order.
// It is meant for tests and for feeding a pipeline from another reader.
type Memory struct {
	pkts  []flowscope.Packet
	next  int
	stats Stats
}

// NewMemory returns a source that delivers pkts once. It does not copy
// pkts; their Data must stay untouched until the source is drained.
func NewMemory(pkts []flowscope.Packet) *Memory { return &Memory{pkts: pkts} }

// ReadBatch implements Source.
func (m *Memory) ReadBatch(ctx context.Context, b *Batch) error {
	b.Reset()
	if err := ctx.Err(); err != nil {
		return err
	}
	for m.next < len(m.pkts) {
		p := m.pkts[m.next]
		if !b.Append(p) {
			break
		}
		m.next++
		m.stats.Packets++
		m.stats.Bytes += uint64(len(p.Data))
	}
	if len(b.Packets) == 0 {
		return io.EOF
	}
	return nil
}

// Stats implements Source.
func (m *Memory) Stats() Stats { return m.stats }

// Close implements Source.
func (m *Memory) Close() error { return nil }

var (
	_ Source = (*Memory)(nil)
	_ Source = Func(nil)
)
