package source_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket/pcapgo"

	"github.com/flowscope-go/flowscope/internal/pcapgen"
	"github.com/flowscope-go/flowscope/source"
)

// ngFile builds a pcapng file block by block, remembering where each
// packet block starts.
type ngFile struct {
	order interface {
		binary.ByteOrder
		binary.AppendByteOrder
	}
	b    []byte
	epbs []int // offsets of the packet blocks
}

func newNgFile(order interface {
	binary.ByteOrder
	binary.AppendByteOrder
}) *ngFile {
	f := &ngFile{order: order}
	f.shb()
	return f
}

func (f *ngFile) block(typ uint32, body []byte) int {
	for len(body)%4 != 0 {
		body = append(body, 0)
	}
	off := len(f.b)
	n := uint32(12 + len(body))
	f.b = f.order.AppendUint32(f.b, typ)
	f.b = f.order.AppendUint32(f.b, n)
	f.b = append(f.b, body...)
	f.b = f.order.AppendUint32(f.b, n)
	return off
}

func (f *ngFile) shb() {
	body := f.order.AppendUint32(nil, 0x1a2b3c4d)
	body = f.order.AppendUint16(body, 1)
	body = f.order.AppendUint16(body, 0)
	body = f.order.AppendUint64(body, ^uint64(0))
	f.block(0x0a0d0d0a, body)
}

// idb adds an Ethernet interface; tsresol 0 leaves the default
// (microseconds); offset, when not 0, is if_tsoffset.
func (f *ngFile) idb(tsresol byte, offset int64) {
	body := f.order.AppendUint16(nil, 1)
	body = f.order.AppendUint16(body, 0)
	body = f.order.AppendUint32(body, 65535)
	if tsresol != 0 {
		body = f.order.AppendUint16(body, 9)
		body = f.order.AppendUint16(body, 1)
		body = append(body, tsresol, 0, 0, 0)
	}
	if offset != 0 {
		body = f.order.AppendUint16(body, 14)
		body = f.order.AppendUint16(body, 8)
		body = f.order.AppendUint64(body, uint64(offset))
	}
	body = f.order.AppendUint32(body, 0)
	f.block(1, body)
}

func (f *ngFile) epb(ifc uint32, ts uint64, data []byte) int {
	body := f.order.AppendUint32(nil, ifc)
	body = f.order.AppendUint32(body, uint32(ts>>32))
	body = f.order.AppendUint32(body, uint32(ts))
	body = f.order.AppendUint32(body, uint32(len(data)))
	body = f.order.AppendUint32(body, uint32(len(data)))
	body = append(body, data...)
	off := f.block(6, body)
	f.epbs = append(f.epbs, off)
	return off
}

// goodFile returns a file of the packets on one nanosecond interface.
func goodFile(order interface {
	binary.ByteOrder
	binary.AppendByteOrder
}, pkts []pcapgen.Packet) *ngFile {
	f := newNgFile(order)
	f.idb(9, 0)
	for _, p := range pkts {
		f.epb(0, uint64(p.TS.UnixNano()), p.Data)
	}
	return f
}

// TestPcapngBadBlocks corrupts one packet block of a file in each way a
// block can be bad: the packets before and after it are read, the block
// is counted, and its note names the file and the block's offset.
func TestPcapngBadBlocks(t *testing.T) {
	pkts := conn(3) // 14 packets
	const bad = 5
	le := binary.LittleEndian
	cases := []struct {
		name  string
		spoil func(b []byte, off int)
		text  string
	}{
		{"unknown-interface", func(b []byte, off int) { le.PutUint32(b[off+8:], 7) }, "packet of interface 7, of which the section has 1"},
		{"length-8", func(b []byte, off int) { le.PutUint32(b[off+4:], 8) }, "block length 8"},
		{"length-huge", func(b []byte, off int) { le.PutUint32(b[off+4:], 0x7ffffffc) }, "block length 2147483644 exceeds"},
		{"length-7fffffff", func(b []byte, off int) { le.PutUint32(b[off+4:], 0x7fffffff) }, "block length 2147483647"},
		{"length-unaligned", func(b []byte, off int) { le.PutUint32(b[off+4:], 101) }, "block length 101"},
		{"trailer-differs", func(b []byte, off int) { le.PutUint32(b[off+4:], le.Uint32(b[off+4:])+4) }, "at its end"},
		{"caplen-past-block", func(b []byte, off int) { le.PutUint32(b[off+20:], 5000) }, "capture length 5000 exceeds the block's"},
		{"type-garbage", func(b []byte, off int) { copy(b[off:], "GARBAGE!") }, "unknown block type"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := goodFile(le, pkts)
			off := f.epbs[bad]
			c.spoil(f.b, off)
			src, err := source.NewReader("spoilt.pcapng", bytes.NewReader(f.b))
			if err != nil {
				t.Fatal(err)
			}
			g, err := readAll(t, src)
			if err != nil {
				t.Fatalf("read: %v", err)
			}
			want := append(append([]pcapgen.Packet(nil), pkts[:bad]...), pkts[bad+1:]...)
			check(t, g, want, time.Nanosecond)
			if st := src.Stats(); st.BadBlocks != 1 {
				t.Errorf("%d bad blocks counted, want 1", st.BadBlocks)
			}
			notes := src.Skipped()
			if len(notes) != 1 {
				t.Fatalf("%d notes, want 1", len(notes))
			}
			if n := notes[0]; n.Offset != int64(off) || n.Packet != bad+1 || !errors.Is(n, source.ErrBadBlock) ||
				!strings.Contains(n.Error(), "spoilt.pcapng") || !strings.Contains(n.Error(), c.text) {
				t.Errorf("note %q (offset %d, packet %d), want offset %d, packet %d, saying %q", n, n.Offset, n.Packet, off, bad+1, c.text)
			}
		})
	}
}

// TestPcapngCut: a file that ends inside a block is an error at that
// block's offset, after the packets before it.
func TestPcapngCut(t *testing.T) {
	pkts := conn(1)
	f := goodFile(binary.LittleEndian, pkts)
	last := f.epbs[len(f.epbs)-1]
	for _, cut := range []int{last + 6, last + 30} {
		src, err := source.NewReader("cut.pcapng", bytes.NewReader(f.b[:cut]))
		if err != nil {
			t.Fatal(err)
		}
		g, err := readAll(t, src)
		var fe *source.FileError
		if !errors.As(err, &fe) || !errors.Is(err, source.ErrTruncatedRecord) || fe.Offset != int64(last) {
			t.Fatalf("cut at %d: error %v, want a truncated record at offset %d", cut, err, last)
		}
		check(t, g, pkts[:len(pkts)-1], time.Nanosecond)
	}
}

// TestPcapngBigEndianAndSections: a big-endian section, then a little-
// endian one whose interfaces are its own.
func TestPcapngBigEndianAndSections(t *testing.T) {
	pkts := conn(1)
	a := newNgFile(binary.BigEndian)
	a.idb(0, 0)
	for _, p := range pkts[:4] {
		a.epb(0, uint64(p.TS.UnixMicro()), p.Data)
	}
	b := newNgFile(binary.LittleEndian)
	b.idb(0, 0) // microseconds
	for _, p := range pkts[4:] {
		b.epb(0, uint64(p.TS.UnixMicro()), p.Data)
	}
	b.epb(1, 0, pkts[0].Data) // interface 1 was the first section's only in name: bad
	src, err := source.NewReader("two.pcapng", bytes.NewReader(append(a.b, b.b...)))
	if err != nil {
		t.Fatal(err)
	}
	g, err := readAll(t, src)
	if err != nil {
		t.Fatal(err)
	}
	check(t, g, pkts, time.Microsecond)
	if st := src.Stats(); st.BadBlocks != 1 {
		t.Errorf("%d bad blocks, want 1", st.BadBlocks)
	}
}

// TestPcapngInterfaceBound: interfaces past MaxInterfaces are skipped
// and counted; packets of the ones kept are read.
func TestPcapngInterfaceBound(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a file of 70,000 interfaces")
	}
	pkts := conn(1)
	f := newNgFile(binary.LittleEndian)
	const n = source.MaxInterfaces + 4464
	for range n {
		f.idb(9, 0)
	}
	for _, p := range pkts {
		f.epb(source.MaxInterfaces-1, uint64(p.TS.UnixNano()), p.Data)
	}
	f.epb(source.MaxInterfaces, 0, pkts[0].Data)
	src, err := source.NewReader("ifs.pcapng", bytes.NewReader(f.b))
	if err != nil {
		t.Fatal(err)
	}
	g, err := readAll(t, src)
	if err != nil {
		t.Fatal(err)
	}
	check(t, g, pkts, time.Nanosecond)
	if st := src.Stats(); st.BadBlocks != n-source.MaxInterfaces+1 {
		t.Errorf("%d bad blocks, want %d", st.BadBlocks, n-source.MaxInterfaces+1)
	}
}

// TestPcapngTimes: resolutions in powers of ten and of two, offsets
// before 1970, and times past what int64 nanoseconds hold (clamped and
// counted).
func TestPcapngTimes(t *testing.T) {
	frame := conn(1)[0].Data
	cases := []struct {
		tsresol byte
		offset  int64
		ts      uint64
		want    int64
		clamped bool
	}{
		{0, 0, 1_700_000_000_123_456, 1_700_000_000_123_456_000, false},
		{9, 0, 1_700_000_000_123_456_789, 1_700_000_000_123_456_789, false},
		{3, 0, 1_700_000_000_123, 1_700_000_000_123_000_000, false},
		{12, 0, 0, 0, false},                // picoseconds: set below
		{0x80 | 30, 0, 3 << 30, 3e9, false}, // 2^-30 s
		{0x80 | 0, 0, 5, 5e9, false},        // 2^0 s
		{0, -2_000_000_000, 1_000_000, -2_000_000_000e9 + 1e9, false},
		{9, 0, math.MaxUint64, math.MaxInt64, true},
		{0, 0, math.MaxUint64 / 1000, math.MaxInt64, true},
		{0, math.MaxInt64 / 2, 0, math.MaxInt64, true},
		{0, math.MinInt64 / 2, 0, math.MinInt64, true},
	}
	// Picoseconds: 1.7e21 does not fit a uint64; use 1.7e18 ps (1.7e6 s).
	cases[3].ts, cases[3].want = 1_700_000_000_123_456_789, 1_700_000_000_123_456
	for i, c := range cases {
		f := newNgFile(binary.LittleEndian)
		f.idb(c.tsresol, c.offset)
		f.epb(0, c.ts, frame)
		src, err := source.NewReader("times.pcapng", bytes.NewReader(f.b))
		if err != nil {
			t.Fatal(err)
		}
		var b source.Batch
		err = src.ReadBatch(t.Context(), &b)
		if err != nil || len(b.Packets) != 1 {
			t.Fatalf("case %d: %v, %d packets", i, err, len(b.Packets))
		}
		if got := b.Packets[0].Time; got != c.want {
			t.Errorf("case %d: time %d, want %d", i, got, c.want)
		}
		if got := src.Stats().TimeClamped; (got > 0) != c.clamped {
			t.Errorf("case %d: %d clamped, want clamped %v", i, got, c.clamped)
		}
	}
}

// BenchmarkPcapngRead reads a pcapng file of 100,000 packets from memory
// with the reader against gopacket's pcapgo.NgReader (a ZeroCopy read of
// each packet copied into a batch-sized buffer, as the source did
// before) in the same run.
//
//	go test -run '^$' -bench PcapngRead -count 5 ./source
func BenchmarkPcapngRead(b *testing.B) {
	var pkts []pcapgen.Packet
	for len(pkts) < 100_000 {
		pkts = append(pkts, conn(20)...)
	}
	f := goodFile(binary.LittleEndian, pkts)
	b.Run("flowscope", func(b *testing.B) {
		b.SetBytes(int64(len(f.b)))
		var batch source.Batch
		for b.Loop() {
			src, err := source.NewReader("bench.pcapng", bytes.NewReader(f.b))
			if err != nil {
				b.Fatal(err)
			}
			n := 0
			for src.ReadBatch(b.Context(), &batch) == nil {
				n += len(batch.Packets)
			}
			if n != len(pkts) {
				b.Fatalf("%d packets", n)
			}
		}
	})
	b.Run("pcapgo", func(b *testing.B) {
		b.SetBytes(int64(len(f.b)))
		for b.Loop() {
			r, err := pcapgo.NewNgReader(bytes.NewReader(f.b), pcapgo.NgReaderOptions{WantMixedLinkType: true})
			if err != nil {
				b.Fatal(err)
			}
			n := 0
			buf := make([]byte, 0, source.DefaultBatchBytes)
			for {
				data, _, err := r.ZeroCopyReadPacketData()
				if err != nil {
					break
				}
				if len(buf)+len(data) > cap(buf) {
					buf = buf[:0]
				}
				buf = append(buf, data...)
				n++
			}
			if n != len(pkts) {
				b.Fatalf("%d packets", n)
			}
		}
	})
}
