package flowscope_test

import (
	"math/rand/v2"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/flowscope-go/flowscope"
	"github.com/flowscope-go/flowscope/flowkey"
	"github.com/flowscope-go/flowscope/internal/pcapgen"
)

// BenchmarkTrack measures Track alone on packets held in memory: a mix of
// about 3,000 TCP and UDP flows, a few hundred open at a time.
func BenchmarkTrack(b *testing.B) {
	gen := pcapgen.Random(rand.New(rand.NewPCG(7, 7)), 3000, 2*time.Minute)
	pkts := make([]flowscope.Packet, len(gen))
	for i, p := range gen {
		pkts[i] = flowscope.Packet{Data: p.Data, Timestamp: p.TS, Length: len(p.Data), LinkType: flowkey.LinkEthernet}
	}
	tr := flowscope.NewTracker(flowkey.FiveTupleExtractor{}, nil)
	evs := make([]flowscope.FlowEvent, 0, 4096)
	for i := range pkts {
		evs = tr.Track(&pkts[i], evs[:0])
	}
	evs = tr.Flush(flowscope.EndOfInput, evs[:0])
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		for i := range pkts {
			evs = tr.Track(&pkts[i], evs[:0])
		}
		evs = tr.Flush(flowscope.EndOfInput, evs[:0])
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(pkts)), "ns/pkt")
}

// BenchmarkDecodeExtract is the decode and 5-tuple part of Track.
func BenchmarkDecodeExtract(b *testing.B) {
	gen := pcapgen.Random(rand.New(rand.NewPCG(7, 7)), 300, time.Minute)
	var dec flowkey.Decoder
	var d flowkey.Decoded
	var ext flowkey.FiveTupleExtractor
	var sink uint64
	var k flowkey.FiveTuple
	for b.Loop() {
		for _, p := range gen {
			_ = dec.Decode(flowkey.LinkEthernet, p.Data, &d)
			_, _ = ext.Extract(&d, &k)
			sink += uint64(k.LoPort)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(gen)), "ns/pkt")
	_ = sink
}

// BenchmarkFlowMemory holds 1,000,000 idle flows in one tracker and
// reports the live heap they take, per flow: the flow table's own cost,
// measured after a garbage collection. TCP flows are opened by a SYN and
// its SYN-ACK; UDP flows by one datagram each way; "udp-handler" gives
// each UDP flow a datagram handler (one without state of its own, so
// what is measured is what the tracker keeps for it). Run it with
// -benchtime 1x: each iteration builds a fresh table.
func BenchmarkFlowMemory(b *testing.B) {
	const n = 1_000_000
	for _, proto := range []string{"tcp", "udp", "udp-handler"} {
		b.Run(proto, func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				perFlow := flowMemory(b, proto, n)
				b.StartTimer()
				b.ReportMetric(perFlow, "B/flow")
			}
		})
	}
}

// noState is a datagram handler with no state.
type noState struct{}

func (noState) Datagram(flowscope.Side, []byte, int64) {}
func (noState) End(*flowscope.FlowRecord)              {}

func flowMemory(b *testing.B, proto string, n int) float64 {
	// Frames are built once and patched per flow (client address and
	// port), so the packets themselves take no heap while measuring.
	cli := netip.MustParseAddrPort("10.0.0.1:1024")
	srv := netip.MustParseAddrPort("192.0.2.1:443")
	var frames [][]byte
	if proto == "tcp" {
		frames = [][]byte{pcapgen.TCP(cli, srv, 1, 0, pcapgen.SYN, nil), pcapgen.TCP(srv, cli, 1, 2, pcapgen.SYN|pcapgen.ACK, nil)}
	} else {
		frames = [][]byte{pcapgen.UDP(cli, srv, make([]byte, 40)), pcapgen.UDP(srv, cli, make([]byte, 80))}
	}
	cfg := &flowscope.Config{MaxFlows: 2 * n}
	if proto == "udp-handler" {
		cfg.NewDatagram = func(*flowscope.FlowRecord) flowscope.DatagramHandler { return noState{} }
	}
	tr := flowscope.NewTracker(flowkey.FiveTupleExtractor{}, cfg)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	evs := make([]flowscope.FlowEvent, 0, 16)
	t0 := time.Unix(1_800_000_000, 0)
	for i := range n {
		for dir, f := range frames {
			// The client is 10.x.y.z, from i: the source of the first
			// frame, the destination of the second.
			addr := 26
			if dir == 1 {
				addr = 30
			}
			f[addr+1], f[addr+2], f[addr+3] = byte(i>>16), byte(i>>8), byte(i)
			p := flowscope.Packet{Data: f, Timestamp: t0.Add(time.Duration(i) * time.Microsecond), Length: len(f), LinkType: flowkey.LinkEthernet}
			evs = tr.Track(&p, evs[:0])
		}
	}
	if tr.Len() != n {
		b.Fatalf("%d flows open, want %d", tr.Len(), n)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(tr)
	return float64(after.HeapAlloc-before.HeapAlloc) / float64(n)
}
