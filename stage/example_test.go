package stage_test

import (
	"bytes"
	"context"
	"fmt"
	"log"

	"github.com/flowscope-go/flowscope"
	"github.com/flowscope-go/flowscope/internal/sample"
	"github.com/flowscope-go/flowscope/parsers/http1"
	"github.com/flowscope-go/flowscope/sink"
	"github.com/flowscope-go/flowscope/source"
	"github.com/flowscope-go/flowscope/stage"
)

// Build the pipeline of the flowscope command in code: read a capture,
// track flows on two shards, and send the records to two sinks at once.
func Example() {
	src, err := source.NewReader(sample.Name, bytes.NewReader(sample.Capture))
	if err != nil {
		log.Fatal(err)
	}
	defer src.Close()

	var jsonl bytes.Buffer
	perProto := map[uint8]int{}
	count := sink.Func[flowscope.FlowEvent](func(_ context.Context, evs []flowscope.FlowEvent) error {
		for _, e := range evs {
			perProto[e.Flow.Proto]++
		}
		return nil
	})

	g := stage.New(nil)
	packets := stage.FromSource(g, "read", src)
	events, stats := stage.TrackFlows(g, "track", packets, 2, nil)
	stage.To(g, "write", events, sink.Tee[flowscope.FlowEvent]{sink.NewZeek(&jsonl), count})
	if err := g.Run(context.Background()); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%d packets, %d flows: %d tcp, %d udp; %d bytes of JSON\n",
		stats.Stats().Packets, stats.Stats().Flows, perProto[6], perProto[17], jsonl.Len())
	// Output:
	// 58 packets, 8 flows: 5 tcp, 3 udp; 3357 bytes of JSON
}

// Run a protocol parser on every flow: HTTP transactions come out beside
// the flow records.
func ExampleTrackParsers() {
	src, err := source.NewReader(sample.Name, bytes.NewReader(sample.Capture))
	if err != nil {
		log.Fatal(err)
	}
	defer src.Close()

	g := stage.New(nil)
	packets := stage.FromSource(g, "read", src)
	flows, txs, _ := stage.TrackParsers[*http1.Transaction](g, "track", packets, 2, nil, http1.Parser{}, nil)
	stage.ToPair(g, "print", flows, txs,
		sink.Func[flowscope.FlowEvent](func(context.Context, []flowscope.FlowEvent) error { return nil }),
		sink.Func[stage.Parsed[*http1.Transaction]](func(_ context.Context, ps []stage.Parsed[*http1.Transaction]) error {
			for _, p := range ps {
				if tx := p.Msg; tx.Request != nil && tx.Response != nil {
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
