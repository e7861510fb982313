package flowscope

import (
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/flowscope-go/flowscope/flowkey"
	"github.com/flowscope-go/flowscope/internal/pcapgen"
)

// BenchmarkFlowMemory holds 1,000,000 idle flows in one tracker and
// reports the live heap they take, per flow: the flow table's own cost,
// measured after a garbage collection. TCP flows are opened by a SYN and
// its SYN-ACK; "tcp-streams" reassembles them too, as a Driver does
// (what is measured is the reassembly state); UDP flows by one datagram
// each way; "udp-handler" gives each UDP flow a datagram handler (one
// without state of its own, so what is measured is what the tracker
// keeps for it). Run it with -benchtime 1x: each iteration builds a
// fresh table.
func BenchmarkFlowMemory(b *testing.B) {
	const n = 1_000_000
	for _, proto := range []string{"tcp", "tcp-streams", "udp", "udp-handler"} {
		b.Run(proto, func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				perFlow := measureFlowMemory(b, proto, n)
				b.StartTimer()
				b.ReportMetric(perFlow, "B/flow")
			}
		})
	}
}

// noState is a datagram handler with no state.
type noState struct{}

func (noState) Datagram(Side, []byte, int64) {}
func (noState) End(*FlowRecord)              {}

func measureFlowMemory(b *testing.B, proto string, n int) float64 {
	// Frames are built once and patched per flow (client address and
	// port), so the packets themselves take no heap while measuring.
	cli := netip.MustParseAddrPort("10.0.0.1:1024")
	srv := netip.MustParseAddrPort("192.0.2.1:443")
	var frames [][]byte
	if proto == "tcp" || proto == "tcp-streams" {
		frames = [][]byte{pcapgen.TCP(cli, srv, 1, 0, pcapgen.SYN, nil), pcapgen.TCP(srv, cli, 1, 2, pcapgen.SYN|pcapgen.ACK, nil)}
	} else {
		frames = [][]byte{pcapgen.UDP(cli, srv, make([]byte, 40)), pcapgen.UDP(srv, cli, make([]byte, 80))}
	}
	tr := newTracker(flowkey.FiveTupleExtractor{}, &Config{MaxFlows: 2 * n})
	if proto == "udp-handler" {
		tr.newDatagram = func(*FlowRecord) datagramHandler { return noState{} }
	}
	if proto == "tcp-streams" {
		tr.newStream = func(*FlowRecord) streamHandler { return discard{} }
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
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
			p := Packet{Data: f, Time: t0.Add(time.Duration(i) * time.Microsecond).UnixNano(), Length: len(f), LinkType: flowkey.LinkEthernet}
			tr.track(&p)
		}
	}
	if tr.table.count != n {
		b.Fatalf("%d flows open, want %d", tr.table.count, n)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(tr)
	return float64(after.HeapAlloc-before.HeapAlloc) / float64(n)
}
