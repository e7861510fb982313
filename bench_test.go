package flowscope_test

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/flowscope-go/flowscope"
	"github.com/flowscope-go/flowscope/flowkey"
	"github.com/flowscope-go/flowscope/internal/pcapgen"
)

// BenchmarkTrack measures a Driver without parsers (flow records, and
// the reassembly that counts missed bytes) on packets held in memory: a
// mix of about 3,000 TCP and UDP flows, a few hundred open at a time.
func BenchmarkTrack(b *testing.B) {
	gen := pcapgen.Random(rand.New(rand.NewPCG(7, 7)), 3000, 2*time.Minute)
	pkts := make([]flowscope.Packet, len(gen))
	for i, p := range gen {
		pkts[i] = flowscope.Packet{Data: p.Data, Time: p.TS.UnixNano(), Length: len(p.Data), LinkType: flowkey.LinkEthernet}
	}
	tr := flowscope.NewDriver(flowkey.FiveTupleExtractor{}, nil)
	evs := make([]flowscope.Record, 0, 4096)
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
