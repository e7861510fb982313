package stage_test

import (
	"bytes"
	"context"
	"fmt"
	"log"

	"github.com/flowscope-go/flowscope"
	"github.com/flowscope-go/flowscope/flowkey"
	"github.com/flowscope-go/flowscope/parsers"
	"github.com/flowscope-go/flowscope/parsers/http1"
	"github.com/flowscope-go/flowscope/sample"
	"github.com/flowscope-go/flowscope/sink"
	"github.com/flowscope-go/flowscope/source"
	"github.com/flowscope-go/flowscope/stage"
)

// Build the pipeline of the flowscope command in code: read a capture,
// track flows and run the built-in parsers on two shards, and send the
// records to two sinks at once.
func Example() {
	src, err := source.NewReader(sample.Name, bytes.NewReader(sample.Capture))
	if err != nil {
		log.Fatal(err)
	}
	defer src.Close()

	var jsonl bytes.Buffer
	perKind := map[string]int{}
	count := sink.Func[flowscope.Record](func(_ context.Context, recs []flowscope.Record) error {
		for _, r := range recs {
			perKind[r.Schema().Kind]++
		}
		return nil
	})

	g := stage.New(nil)
	packets := stage.FromSource(g, "read", src)
	recs, stats := stage.Track(g, "track", flowkey.FiveTupleExtractor{},
		&stage.TrackConfig{Workers: 2, Driver: flowscope.Config{Parsers: parsers.All()}}, packets)
	stage.To(g, "write", recs, sink.Tee[flowscope.Record]{sink.NewLines(&jsonl, &sink.ZeekJSON{}), count})
	if err := g.Run(context.Background()); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%d packets, %d flows: %d conn, %d http, %d dns records; %d bytes of JSON\n",
		stats.Stats().Packets, stats.Stats().Flows, perKind["conn"], perKind["http"], perKind["dns"], jsonl.Len())
	// Output:
	// 58 packets, 8 flows: 8 conn, 5 http, 4 dns records; 6751 bytes of JSON
}

// Take the records of one type out of the output: HTTP transactions to
// a callback, the rest dropped.
func ExampleSelect() {
	src, err := source.NewReader(sample.Name, bytes.NewReader(sample.Capture))
	if err != nil {
		log.Fatal(err)
	}
	defer src.Close()

	g := stage.New(nil)
	packets := stage.FromSource(g, "read", src)
	recs, _ := stage.Track(g, "track", flowkey.FiveTupleExtractor{},
		&stage.TrackConfig{Workers: 2, Driver: flowscope.Config{Parsers: []flowscope.Parser{flowscope.Session(http1.Parser{})}}}, packets)
	txs, rest := stage.Select[*http1.Transaction](g, "http", recs)
	stage.Drop(g, "rest", rest)
	stage.To(g, "print", txs, sink.Func[*http1.Transaction](func(_ context.Context, txs []*http1.Transaction) error {
		for _, tx := range txs {
			if tx.Request != nil && tx.Response != nil {
				fmt.Println(tx.Request.Method, tx.Request.Target, tx.Response.Status, tx.Response.BodyLen)
			}
		}
		return nil
	}))
	if err := g.Run(context.Background()); err != nil {
		log.Fatal(err)
	}
	// Unordered output:
	// GET / 200 43
	// GET /big.txt 200 20000
	// GET /index.html 200 43
	// GET /missing 404 153
	// POST /echo 200 7
}
