// Command fanout builds a pipeline in Go with its output fanned out to
// two sinks at once: every record, of every kind, to Zeek JSON Lines on
// standard output, and the HTTP transactions, taken out by their Go type,
// to a summary of requests per host and status on standard error.
//
//	go run ./examples/fanout -r capture.pcap > records.jsonl
//
// With no -r it reads the capture embedded in flowscope. Interrupt stops
// it cleanly: nothing is written for the flows still open.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"maps"
	"os"
	"os/signal"
	"slices"

	"github.com/flowscope-go/flowscope"
	"github.com/flowscope-go/flowscope/flowkey"
	"github.com/flowscope-go/flowscope/parsers"
	"github.com/flowscope-go/flowscope/parsers/http1"
	"github.com/flowscope-go/flowscope/sample"
	"github.com/flowscope-go/flowscope/sink"
	"github.com/flowscope-go/flowscope/source"
	"github.com/flowscope-go/flowscope/stage"
)

func main() {
	path := flag.String("r", "", "capture to read (default: the embedded sample)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *path, os.Stdout, os.Stderr); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, path string, records, summary io.Writer) error {
	src, err := sample.Open()
	if path != "" {
		src, err = source.OpenFiles(path)
	}
	if err != nil {
		return err
	}
	defer src.Close()

	g := stage.New(nil)
	recs, stats := stage.Track(g, "track", flowkey.FiveTupleExtractor{},
		&stage.TrackConfig{Workers: 2, Driver: flowscope.Config{Parsers: parsers.All()}}, stage.FromSource(g, "read", src))
	// Fan out: every batch of records to both branches, not copied.
	branches := stage.Tee(g, "tee", recs, 2)
	stage.To(g, "zeek", branches[0], sink.NewLines(records, &sink.ZeekJSON{}))
	txs, rest := stage.Select[*http1.Transaction](g, "http", branches[1])
	stage.Drop(g, "rest", rest)
	count := map[string]int{}
	stage.To(g, "count", txs, sink.Func[*http1.Transaction](func(_ context.Context, txs []*http1.Transaction) error {
		for _, tx := range txs {
			if tx.Request != nil && tx.Response != nil {
				host, _ := tx.Request.Header("Host")
				count[fmt.Sprintf("%s %d", host, tx.Response.Status)]++
			}
		}
		return nil
	}))
	if err := g.Run(ctx); err != nil {
		return err
	}
	fmt.Fprintf(summary, "%d packets, %d flows\n", stats.Stats().Packets, stats.Stats().Flows)
	for _, k := range slices.Sorted(maps.Keys(count)) {
		fmt.Fprintf(summary, "%6d  %s\n", count[k], k)
	}
	return nil
}
