// Command live captures on a network interface and writes the records of
// the flows it sees, with every built-in parser on, as Zeek JSON Lines, as
// flows end: one capture socket per shard, joined in a fanout group that
// hashes each flow to one socket. Timers run on the wall clock, so idle
// flows end even when nothing arrives. Interrupt (or -t) stops the
// capture; the flows still open are ended as "shutdown" and written.
//
//	sudo go run ./examples/live -i eth0 -f 'tcp port 80 or udp port 53'
//
// It needs Linux and root (or CAP_NET_RAW).
package main

import (
	"context"
	"flag"
	"io"
	"log"
	"os"
	"os/signal"
	"time"

	"github.com/flowscope-go/flowscope"
	"github.com/flowscope-go/flowscope/flowkey"
	"github.com/flowscope-go/flowscope/parsers"
	"github.com/flowscope-go/flowscope/sink"
	"github.com/flowscope-go/flowscope/source"
	"github.com/flowscope-go/flowscope/stage"
)

func main() {
	iface := flag.String("i", "", "interface to capture on")
	filter := flag.String("f", "", "capture filter, in tcpdump's language")
	limit := flag.Duration("t", 0, "stop after this long (default: at an interrupt)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if *limit > 0 {
		ctx, stop = context.WithTimeout(ctx, *limit)
		defer stop()
	}
	if err := run(ctx, source.LiveConfig{Interface: *iface, Filter: *filter, Sockets: 2}, os.Stdout); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, cfg source.LiveConfig, out io.Writer) error {
	lives, err := source.OpenLive(cfg)
	if err != nil {
		return err
	}
	return capture(ctx, lives, out)
}

// capture reads lives until ctx is done, then stops them: the pipeline
// drains, ending the open flows as shutdown, rather than being cancelled.
func capture(ctx context.Context, lives []*source.Live, out io.Writer) error {
	g := stage.New(nil)
	var ins []stage.Port[*stage.Batch[flowscope.Packet]]
	for _, l := range lives {
		defer l.Close()
		ins = append(ins, stage.FromSource(g, "read", l))
	}
	recs, _ := stage.Track(g, "track", flowkey.FiveTupleExtractor{}, &stage.TrackConfig{
		Driver: flowscope.Config{Parsers: parsers.All(), UDPTimeout: 10 * time.Second},
		Final:  flowscope.EndShutdown}, ins...)
	stage.To(g, "write", recs, flushed{sink.NewLines(out, &sink.ZeekJSON{})})
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-ctx.Done():
			for _, l := range lives {
				l.Stop()
			}
		case <-done: // the capture failed by itself
		}
	}()
	return g.Run(context.Background())
}

// flushed writes each batch of records out as it comes: a live capture's
// records should appear as flows end, not when a buffer fills.
type flushed struct{ *sink.Lines }

func (f flushed) Write(ctx context.Context, recs []flowscope.Record) error {
	if err := f.Lines.Write(ctx, recs); err != nil {
		return err
	}
	return f.Flush()
}
