package source_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/flowscope-go/flowscope"
	"github.com/flowscope-go/flowscope/flowkey"
	"github.com/flowscope-go/flowscope/internal/pcapgen"
	"github.com/flowscope-go/flowscope/source"
	"github.com/flowscope-go/flowscope/source/sourcetest"
)

var (
	cli = netip.MustParseAddrPort("10.0.0.1:40000")
	srv = netip.MustParseAddrPort("10.0.0.2:80")
	t0  = time.Unix(1_700_000_000, 123456789).UTC()
)

func conn(n int) []pcapgen.Packet {
	return pcapgen.TCPConn(pcapgen.Conn{Client: cli, Server: srv, Start: t0, Exchanges: n, ReqSize: 100, RespSize: 3000, Gap: time.Microsecond})
}

func writeFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func pcapBytes(t *testing.T, pkts []pcapgen.Packet) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := pcapgen.WritePcap(&b, pkts); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// microPcap writes a microsecond-resolution pcap of the given link type.
func microPcap(t *testing.T, lt layers.LinkType, pkts []pcapgen.Packet) []byte {
	t.Helper()
	var b bytes.Buffer
	w := pcapgo.NewWriter(&b)
	if err := w.WriteFileHeader(65535, lt); err != nil {
		t.Fatal(err)
	}
	for _, p := range pkts {
		if err := w.WritePacket(gopacket.CaptureInfo{Timestamp: p.TS, CaptureLength: len(p.Data), Length: len(p.Data)}, p.Data); err != nil {
			t.Fatal(err)
		}
	}
	return b.Bytes()
}

// readAll drains src, copying out packets, and returns the final error.
type got struct {
	data [][]byte
	ts   []time.Time
	lt   []flowkey.LinkType
	ifc  []int
}

func readAll(t *testing.T, src source.Source) (got, error) {
	t.Helper()
	var g got
	var b source.Batch
	for {
		err := src.ReadBatch(context.Background(), &b)
		for _, p := range b.Packets {
			g.data = append(g.data, append([]byte(nil), p.Data...))
			g.ts = append(g.ts, time.Unix(0, p.Time).UTC())
			g.lt = append(g.lt, p.LinkType)
			g.ifc = append(g.ifc, p.Interface)
		}
		if err == io.EOF {
			return g, nil
		}
		if err != nil {
			return g, err
		}
	}
}

func check(t *testing.T, g got, want []pcapgen.Packet, res time.Duration) {
	t.Helper()
	if len(g.data) != len(want) {
		t.Fatalf("read %d packets, want %d", len(g.data), len(want))
	}
	for i := range want {
		if !bytes.Equal(g.data[i], want[i].Data) {
			t.Fatalf("packet %d: data differs", i)
		}
		if w := want[i].TS.Truncate(res); !g.ts[i].Equal(w) {
			t.Fatalf("packet %d: timestamp %v, want %v", i, g.ts[i], w)
		}
	}
}

func TestFilesPcapResolutions(t *testing.T) {
	pkts := conn(200) // more than one batch
	for _, c := range []struct {
		name string
		data []byte
		res  time.Duration
	}{
		{"nano.pcap", pcapBytes(t, pkts), time.Nanosecond},
		{"micro.pcap", microPcap(t, layers.LinkTypeEthernet, pkts), time.Microsecond},
	} {
		t.Run(c.name, func(t *testing.T) {
			src, err := source.OpenFiles(writeFile(t, c.name, c.data))
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			g, err := readAll(t, src)
			if err != nil {
				t.Fatal(err)
			}
			check(t, g, pkts, c.res)
			if st := src.Stats(); st.Packets != uint64(len(pkts)) || st.Files != 1 {
				t.Errorf("stats = %+v, want %d packets from 1 file", st, len(pkts))
			}
		})
	}
}

// ngBlock appends one pcapng block (little endian) with its body padded
// to 4 bytes.
func ngBlock(b []byte, typ uint32, body []byte) []byte {
	for len(body)%4 != 0 {
		body = append(body, 0)
	}
	n := uint32(12 + len(body))
	b = binary.LittleEndian.AppendUint32(b, typ)
	b = binary.LittleEndian.AppendUint32(b, n)
	b = append(b, body...)
	return binary.LittleEndian.AppendUint32(b, n)
}

// pcapngTwoInterfaces builds a pcapng file by hand: interface 0 is
// Ethernet with nanosecond timestamps, interface 1 raw IP with the default
// microsecond resolution. Odd packets go to interface 1 without their
// Ethernet header.
func pcapngTwoInterfaces(pkts []pcapgen.Packet) (file []byte, want []pcapgen.Packet) {
	le := binary.LittleEndian
	shb := le.AppendUint32(nil, 0x1a2b3c4d)
	shb = le.AppendUint16(shb, 1)
	shb = le.AppendUint16(shb, 0)
	shb = le.AppendUint64(shb, ^uint64(0))
	b := ngBlock(nil, 0x0a0d0d0a, shb)
	idb := func(lt uint16, tsresol byte) []byte {
		body := le.AppendUint16(nil, lt)
		body = le.AppendUint16(body, 0)
		body = le.AppendUint32(body, 65535)
		if tsresol != 0 {
			body = le.AppendUint16(body, 9) // if_tsresol
			body = le.AppendUint16(body, 1)
			body = append(body, tsresol, 0, 0, 0)
			body = le.AppendUint32(body, 0) // opt_endofopt
		}
		return body
	}
	b = ngBlock(b, 1, idb(1, 9))
	b = ngBlock(b, 1, idb(101, 0))
	for i, p := range pkts {
		ifc, data, ts := uint32(0), p.Data, uint64(p.TS.UnixNano())
		if i%2 == 1 {
			ifc, data, ts = 1, p.Data[14:], uint64(p.TS.UnixMicro())
		}
		body := le.AppendUint32(nil, ifc)
		body = le.AppendUint32(body, uint32(ts>>32))
		body = le.AppendUint32(body, uint32(ts))
		body = le.AppendUint32(body, uint32(len(data)))
		body = le.AppendUint32(body, uint32(len(data)))
		body = append(body, data...)
		b = ngBlock(b, 6, body)
		want = append(want, pcapgen.Packet{TS: p.TS, Data: data})
	}
	return b, want
}

func TestFilesPcapngInterfaces(t *testing.T) {
	file, want := pcapngTwoInterfaces(conn(3))
	src, err := source.OpenFiles(writeFile(t, "multi.pcapng", file))
	if err != nil {
		t.Fatal(err)
	}
	g, err := readAll(t, src)
	if err != nil {
		t.Fatal(err)
	}
	if len(g.data) != len(want) {
		t.Fatalf("read %d packets, want %d", len(g.data), len(want))
	}
	for i := range want {
		wantLT, wantIf, res := flowkey.LinkEthernet, 0, time.Nanosecond
		if i%2 == 1 {
			wantLT, wantIf, res = flowkey.LinkRaw, 1, time.Microsecond
		}
		if g.lt[i] != wantLT || g.ifc[i] != wantIf {
			t.Errorf("packet %d: link %d on interface %d, want %d on %d", i, g.lt[i], g.ifc[i], wantLT, wantIf)
		}
		if !bytes.Equal(g.data[i], want[i].Data) || !g.ts[i].Equal(want[i].TS.Truncate(res)) {
			t.Errorf("packet %d: data or time differs (%v, want %v)", i, g.ts[i], want[i].TS.Truncate(res))
		}
	}
}

func TestFilesSeveralInOrder(t *testing.T) {
	a, b := conn(2), pcapgen.UDPExchange(cli, srv, t0.Add(time.Second), 3, 10, 20)
	pa := writeFile(t, "a.pcap", pcapBytes(t, a))
	pb := writeFile(t, "b.pcap", pcapBytes(t, b))
	src, err := source.OpenFiles(pa, pb)
	if err != nil {
		t.Fatal(err)
	}
	g, err := readAll(t, src)
	if err != nil {
		t.Fatal(err)
	}
	check(t, g, append(append([]pcapgen.Packet{}, a...), b...), time.Nanosecond)
	if st := src.Stats(); st.Files != 2 {
		t.Errorf("files = %d, want 2", st.Files)
	}
}

func TestFilesBadInput(t *testing.T) {
	good := pcapBytes(t, conn(1))
	cases := []struct {
		name    string
		data    []byte // nil: the file does not exist
		is      error
		text    string
		packets int // delivered before the error
	}{
		{name: "missing.pcap", is: os.ErrNotExist, text: "no such file"},
		{name: "dir", is: syscall.EISDIR, text: "is a directory"},
		{name: "empty.pcap", data: []byte{}, is: source.ErrEmptyFile, text: "empty file"},
		{name: "text.pcap", data: []byte("hello, this is not a capture\n"), is: source.ErrNotCapture, text: "not a pcap or pcapng file"},
		{name: "short.pcap", data: good[:3], is: source.ErrNotCapture, text: "too short"},
		{name: "user13.pcap", data: microPcap(t, layers.LinkType(160), conn(1)), is: source.ErrUnsupportedLink, text: "unsupported link type 160"},
		// The first record (a 54-byte SYN) spans bytes 24..94; cut inside
		// the second record's data, then inside its header.
		{name: "cut.pcap", data: good[:94+16+10], is: source.ErrTruncatedRecord, text: "packet 2 at offset 94", packets: 1},
		{name: "cut-header.pcap", data: good[:94+8], is: source.ErrTruncatedRecord, text: "packet 2 at offset 94", packets: 1},
		// A snap length of 2^32-1 lets no record past MaxCaptureLength:
		// the second claims 100 MB.
		{name: "huge-record.pcap", data: hugeRecord(good), is: source.ErrBadRecord, text: "packet 2 at offset 94: corrupt capture record: capture length 100000000 exceeds the largest accepted, 262144", packets: 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), c.name)
			if c.name == "dir" {
				path = t.TempDir()
			}
			if c.data != nil {
				path = writeFile(t, c.name, c.data)
			}
			src, err := source.OpenFiles(path)
			var g got
			if err == nil {
				g, err = readAll(t, src)
			}
			if !errors.Is(err, c.is) {
				t.Fatalf("error = %v, want %v", err, c.is)
			}
			if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), c.text) {
				t.Errorf("error %q should name %s and say %q", err, path, c.text)
			}
			if len(g.data) != c.packets {
				t.Errorf("%d packets delivered before the error, want %d", len(g.data), c.packets)
			}
		})
	}
}

// hugeRecord returns pcap file good (two or more records, the first of
// 54 bytes) with a snap length of 2^32-1 and its second record claiming
// 100 MB.
func hugeRecord(good []byte) []byte {
	b := append([]byte(nil), good...)
	binary.LittleEndian.PutUint32(b[16:], 0xffffffff)
	binary.LittleEndian.PutUint32(b[94+8:], 100_000_000)
	binary.LittleEndian.PutUint32(b[94+12:], 100_000_000)
	return b
}

// A pcap's 32-bit seconds wrap in 2106; a file that goes on past it
// counts from 0 again. The times read go on past 2106 (and a record from
// just before the wrap, reordered after it, stays before), and time past
// what int64 nanoseconds hold is clamped and counted.
func TestPcapSecondsWrap(t *testing.T) {
	secs := []uint32{1<<32 - 2, 1<<32 - 1, 0, 1<<32 - 1, 1, 1 << 31, 1<<32 - 1, 5, 1<<31 + 10, 1<<32 - 1, 3, 1 << 31, 1<<32 - 1}
	var recs []byte
	frame := conn(1)[0].Data
	for _, s := range secs {
		h := make([]byte, 16)
		binary.LittleEndian.PutUint32(h[0:], s)
		binary.LittleEndian.PutUint32(h[8:], uint32(len(frame)))
		binary.LittleEndian.PutUint32(h[12:], uint32(len(frame)))
		recs = append(append(recs, h...), frame...)
	}
	file := append(pcapBytes(t, nil), recs...)
	src, err := source.NewReader("wrap.pcap", bytes.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	g, err := readAll(t, src)
	if err != nil {
		t.Fatal(err)
	}
	const w = int64(1) << 32
	// A step forward of more than 2^31 s after a wrap is a record from
	// before it; 2^33+2^31 s lies past 2262.
	last := int64(math.MaxInt64) / 1e9
	want := []int64{w - 2, w - 1, w, w - 1, w + 1, w + 1<<31, 2*w - 1, 2*w + 5, w + 1<<31 + 10, 2*w - 1, 2*w + 3, last, last}
	var got []int64
	for _, ts := range g.ts {
		got = append(got, ts.Unix())
	}
	if !slices.Equal(got, want) {
		t.Fatalf("seconds %v, want %v", got, want)
	}
	if c := src.Stats().TimeClamped; c != 2 {
		t.Errorf("TimeClamped = %d, want 2", c)
	}
}

func TestReadBatchZeroAllocs(t *testing.T) {
	data := pcapBytes(t, conn(2000))
	path := writeFile(t, "big.pcap", data)
	src, err := source.OpenFiles(path)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	var b source.Batch
	if err := src.ReadBatch(context.Background(), &b); err != nil {
		t.Fatal(err)
	}
	// 10,000 packets: enough for the warm-up read and AllocsPerRun's 6.
	allocs := testing.AllocsPerRun(5, func() {
		if err := src.ReadBatch(context.Background(), &b); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("ReadBatch allocates %v times per batch, want 0", allocs)
	}
}

func TestMemory(t *testing.T) {
	want := conn(150)
	pkts := make([]flowscope.Packet, len(want))
	for i, p := range want {
		pkts[i] = flowscope.Packet{Data: p.Data, Time: p.TS.UnixNano(), Length: len(p.Data), LinkType: flowkey.LinkEthernet}
	}
	mem := source.NewMemory(pkts)
	g, err := readAll(t, mem)
	if err != nil {
		t.Fatal(err)
	}
	check(t, g, want, time.Nanosecond)
	var b source.Batch
	if err := mem.ReadBatch(context.Background(), &b); err != io.EOF {
		t.Errorf("drained memory source: %v, want io.EOF", err)
	}
}

func TestFuncSource(t *testing.T) {
	want := conn(1)
	i := 0
	src := source.Func(func(ctx context.Context, b *source.Batch) error {
		for ; i < len(want); i++ {
			p := flowscope.Packet{Data: want[i].Data, Time: want[i].TS.UnixNano(), LinkType: flowkey.LinkEthernet}
			if !b.Append(p) {
				return nil
			}
		}
		if b.Len() == 0 {
			return io.EOF
		}
		return nil
	})
	g, err := readAll(t, src)
	if err != nil {
		t.Fatal(err)
	}
	check(t, g, want, time.Nanosecond)
}

func TestSourcesKeepTheContract(t *testing.T) {
	pkts := conn(150)
	data := pcapBytes(t, pkts)
	path := writeFile(t, "contract.pcap", data)
	t.Run("Files", func(t *testing.T) {
		sourcetest.Run(t, func(t *testing.T) source.Source {
			src, err := source.OpenFiles(path, path)
			if err != nil {
				t.Fatal(err)
			}
			return src
		}, 2*len(pkts))
	})
	t.Run("Memory", func(t *testing.T) {
		mem := make([]flowscope.Packet, len(pkts))
		for i, p := range pkts {
			mem[i] = flowscope.Packet{Data: p.Data, Time: p.TS.UnixNano(), Length: len(p.Data), LinkType: flowkey.LinkEthernet}
		}
		sourcetest.Run(t, func(t *testing.T) source.Source { return source.NewMemory(mem) }, len(pkts))
	})
	t.Run("Filtered", func(t *testing.T) {
		sourcetest.Run(t, func(t *testing.T) source.Source {
			src, err := source.OpenFiles(path)
			if err != nil {
				t.Fatal(err)
			}
			f, err := source.NewFiltered(src, "tcp")
			if err != nil {
				t.Fatal(err)
			}
			return f
		}, len(pkts))
	})
	t.Run("Limit", func(t *testing.T) {
		sourcetest.Run(t, func(t *testing.T) source.Source {
			src, err := source.OpenFiles(path, path)
			if err != nil {
				t.Fatal(err)
			}
			return source.NewLimit(uint64(len(pkts)+7), nil).Wrap(src)
		}, len(pkts)+7)
	})
}
