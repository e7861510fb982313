package analyze_test

import (
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/flowscope-go/flowscope"
	"github.com/flowscope-go/flowscope/flowkey"
	"github.com/flowscope-go/flowscope/internal/analyze"
	"github.com/flowscope-go/flowscope/internal/pcapgen"
)

// BenchmarkFloodMemory holds 500,000 flows of a flood in a Driver with
// the command's parsers and reports the live heap per flow, after a
// garbage collection: "syn" is one SYN a flow (a scan), "udp-dns" one DNS
// query a flow, never answered. Run it with -benchtime 1x.
func BenchmarkFloodMemory(b *testing.B) {
	ps, err := analyze.Parsers("")
	if err != nil {
		b.Fatal(err)
	}
	cli := netip.MustParseAddrPort("10.0.0.1:1024")
	srv := netip.MustParseAddrPort("192.0.2.1:53")
	query := []byte("\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x03www\x07example\x03com\x00\x00\x01\x00\x01")
	for _, c := range []struct {
		name  string
		frame []byte
	}{
		{"syn", pcapgen.TCP(cli, srv, 1, 0, pcapgen.SYN, nil)},
		{"udp-dns", pcapgen.UDP(cli, srv, query)},
	} {
		b.Run(c.name, func(b *testing.B) {
			const n = 500_000
			for b.Loop() {
				b.StopTimer()
				d := flowscope.NewDriver(flowkey.FiveTupleExtractor{}, &flowscope.Config{Parsers: ps})
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				var out []flowscope.Record
				f := c.frame
				t0 := time.Unix(1_800_000_000, 0)
				for i := range n {
					f[27], f[28], f[29] = byte(i>>16), byte(i>>8), byte(i) // the client's address
					p := flowscope.Packet{Data: f, Time: t0.Add(time.Duration(i) * time.Microsecond).UnixNano(), LinkType: flowkey.LinkEthernet}
					out = d.Track(&p, out[:0])
				}
				if d.Len() != n {
					b.Fatalf("%d flows open, want %d", d.Len(), n)
				}
				runtime.GC()
				runtime.ReadMemStats(&after)
				runtime.KeepAlive(d)
				b.StartTimer()
				b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "B/flow")
			}
		})
	}
}
