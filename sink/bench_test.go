package sink_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/flowscope-go/flowscope"
	"github.com/flowscope-go/flowscope/flowkey"
	"github.com/flowscope-go/flowscope/parsers"
	"github.com/flowscope-go/flowscope/sample"
	"github.com/flowscope-go/flowscope/sink"
	"github.com/flowscope-go/flowscope/source"
)

// sampleRecords returns the records of the embedded sample, every parser
// on, by kind.
func sampleRecords(t testing.TB) map[string][]flowscope.Record {
	t.Helper()
	src, err := source.NewReader(sample.Name, bytes.NewReader(sample.Capture))
	if err != nil {
		t.Fatal(err)
	}
	d := flowscope.NewDriver(flowkey.FiveTupleExtractor{}, &flowscope.Config{Parsers: parsers.All()})
	var recs []flowscope.Record
	var b source.Batch
	for src.ReadBatch(context.Background(), &b) == nil {
		for i := range b.Packets {
			recs = d.Track(&b.Packets[i], recs)
		}
	}
	recs = d.Flush(flowscope.EndOfInput, recs)
	out := map[string][]flowscope.Record{}
	for _, r := range recs {
		out[r.Schema().Kind] = append(out[r.Schema().Kind], r)
	}
	return out
}

// BenchmarkZeekJSON encodes the sample's records of each kind, by their
// hand-written encodings ("fast") and from their schemas and values
// ("schema"); ns/op is per record.
func BenchmarkZeekJSON(b *testing.B) {
	byKind := sampleRecords(b)
	for _, kind := range []string{"conn", "http", "dns"} {
		recs := byKind[kind]
		for _, mode := range []string{"fast", "schema"} {
			b.Run(kind+"/"+mode, func(b *testing.B) {
				z := sink.ZeekJSON{SchemaOnly: mode == "schema"}
				buf := make([]byte, 0, 2048)
				b.ReportAllocs()
				for b.Loop() {
					for _, r := range recs {
						buf = z.Append(buf[:0], r)
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(recs)), "ns/record")
			})
		}
	}
}
