// Command topflows shows flow tracking used from Go: it reads a capture,
// tracks flows over several shards, and prints the flows that moved the
// most bytes. With no -r it reads the capture embedded in flowscope.
//
//	go run ./examples/topflows -r capture.pcap -n 10
//
// Interrupt stops it cleanly: the pipeline is cancelled and nothing is
// printed for the flows that were still open.
package main

import (
	"context"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"os/signal"
	"sort"

	"github.com/flowscope-go/flowscope"
	"github.com/flowscope-go/flowscope/flowkey"
	"github.com/flowscope-go/flowscope/sample"
	"github.com/flowscope-go/flowscope/sink"
	"github.com/flowscope-go/flowscope/source"
	"github.com/flowscope-go/flowscope/stage"
)

func main() {
	path := flag.String("r", "", "capture to read (default: the embedded sample)")
	n := flag.Int("n", 5, "how many flows to show")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *path, *n); err != nil {
		fmt.Fprintln(os.Stderr, "topflows:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, path string, n int) error {
	src, err := sample.Open()
	if path != "" {
		src, err = source.OpenFiles(path)
	}
	if err != nil {
		return err
	}
	defer src.Close()

	// The callback sink runs in the pipeline's last stage; records are
	// values, so keeping them is safe.
	var flows []*flowscope.FlowRecord
	keep := sink.Func[flowscope.Record](func(_ context.Context, recs []flowscope.Record) error {
		for _, r := range recs {
			flows = append(flows, r.(*flowscope.FlowRecord)) // no parsers: conn records only
		}
		return nil
	})

	g := stage.New(nil)
	recs, stats := stage.Track(g, "track", flowkey.FiveTupleExtractor{}, &stage.TrackConfig{Workers: 2},
		stage.FromSource(g, "read", src))
	stage.To(g, "keep", recs, keep)
	if err := g.Run(ctx); err != nil {
		return err
	}

	total := func(r *flowscope.FlowRecord) uint64 {
		return r.Stats[flowscope.Orig].IPBytes + r.Stats[flowscope.Resp].IPBytes
	}
	sort.Slice(flows, func(i, j int) bool { return total(flows[i]) > total(flows[j]) })
	st := stats.Stats()
	fmt.Printf("%d packets, %d flows\n\n", st.Packets, st.Flows)
	fmt.Printf("%-5s %-44s %-44s %6s %10s  %s\n", "proto", "originator", "responder", "state", "IP bytes", "history")
	for i := range min(n, len(flows)) {
		r := flows[i]
		fmt.Printf("%-5s %-44v %-44v %6s %10d  %s\n", r.Transport(),
			netip.AddrPortFrom(r.Orig.Addr.Netip(), r.Orig.Port), netip.AddrPortFrom(r.Resp.Addr.Netip(), r.Resp.Port),
			r.State, total(r), r.History.String())
	}
	return nil
}
