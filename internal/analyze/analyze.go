// Package analyze is the flowscope command's job as one call: read
// packets from sources, track flows over shards, run the protocol
// parsers, and write Zeek JSON Lines (and transcripts), in the same order
// on every run for files. The command, the conformance tests and the
// benchmarks share it; programs build their own graphs from the stage,
// parsers and sink packages, as this does.
package analyze

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/flowscope-go/flowscope"
	"github.com/flowscope-go/flowscope/conversation"
	"github.com/flowscope-go/flowscope/flowkey"
	"github.com/flowscope-go/flowscope/parsers"
	"github.com/flowscope-go/flowscope/sink"
	"github.com/flowscope-go/flowscope/source"
	"github.com/flowscope-go/flowscope/stage"
)

// Parsers reads a --protocols list: comma-separated names of built-in
// parsers, empty for all of them, "none" for none (flow records only).
func Parsers(list string) ([]flowscope.Parser, error) {
	if strings.TrimSpace(list) == "" {
		return parsers.All(), nil
	}
	var names []string
	for _, n := range strings.Split(list, ",") {
		switch n = strings.ToLower(strings.TrimSpace(n)); {
		case n == "none":
		case slices.Contains(parsers.Names(), n):
			names = append(names, n)
		default:
			return nil, fmt.Errorf("unknown protocol %q in --protocols (known: %s, none)", n, strings.Join(parsers.Names(), ", "))
		}
	}
	return parsers.ByName(names...)
}

// Options says what Run does. The zero Options tracks flows on one worker
// with every parser on and no transcripts.
type Options struct {
	// Workers is the number of flow-tracking shards; zero means one.
	Workers int
	// Protocols selects parsers, as Parsers reads it ("" means all).
	Protocols string
	// Transcripts, when set, receives every TCP connection's
	// conversation. Run does not close it.
	Transcripts *sink.Transcripts
	// Driver configures the Drivers (nil means defaults); its Parsers
	// are replaced.
	Driver *flowscope.Config
	// Report, when set, is called every ReportEvery while the run goes
	// on, from a goroutine of its own (a live capture's --stats).
	Report      func(Progress)
	ReportEvery time.Duration
}

// Progress is a snapshot of a run for Options.Report.
type Progress struct {
	// Source sums the sources' counters (for live sources only: file
	// sources are not read while they run).
	Source source.Stats
	// Tracker sums the Drivers' counters.
	Tracker flowscope.Stats
	// OpenFlows and Buffered are the flows open and the bytes held for
	// TCP reassembly.
	OpenFlows, Buffered int
}

// Run reads src to its end and writes conn and protocol records to w as
// JSON Lines. It returns the Drivers' counters and the first error: a
// read error still lets everything read before it be written. It does
// not close src or w; it flushes w.
func Run(ctx context.Context, src source.Source, w io.Writer, o Options) (flowscope.Stats, error) {
	return run(ctx, []source.Source{src}, w, o, false)
}

// RunLive is Run for a live capture: each source feeds a flow-tracking
// shard of its own (the sockets of a fanout group, which the kernel
// splits by flow; o.Workers is not used), w is flushed after every batch
// so that records appear as flows end, records come in the order the
// shards produce them, and flows still open when the sources end (after
// source.Live.Stop) get reason shutdown.
func RunLive(ctx context.Context, srcs []source.Source, w io.Writer, o Options) (flowscope.Stats, error) {
	return run(ctx, srcs, w, o, true)
}

func run(ctx context.Context, srcs []source.Source, w io.Writer, o Options, live bool) (flowscope.Stats, error) {
	ps, err := Parsers(o.Protocols)
	if err != nil {
		return flowscope.Stats{}, err
	}
	var dc flowscope.Config
	if o.Driver != nil {
		dc = *o.Driver
	}
	if o.Transcripts != nil {
		ps = append(ps, flowscope.Session(conversation.Parser{}))
	}
	dc.Parsers = ps
	tc := stage.TrackConfig{Workers: max(o.Workers, 1), Driver: dc}
	g := stage.New(nil)
	ins := make([]stage.Port[*stage.Batch[flowscope.Packet]], len(srcs))
	for i, src := range srcs {
		ins[i] = stage.FromSource(g, fmt.Sprintf("read-%d", i), src)
	}
	if live {
		tc.Final, tc.Shed = flowscope.EndShutdown, true
	} else if len(ins) > 1 {
		panic("analyze.Run: one source")
	}
	recs, stats := stage.Track(g, "track", flowkey.FiveTupleExtractor{}, &tc, ins...)
	if o.Transcripts != nil {
		var convs stage.Port[*stage.Batch[*conversation.Event]]
		convs, recs = stage.Select[*conversation.Event](g, "select", recs)
		stage.To(g, "transcripts", convs, o.Transcripts)
	}
	bw := bufio.NewWriterSize(w, 256<<10)
	var out sink.Sink[flowscope.Record] = sink.NewLines(bw, &sink.ZeekJSON{})
	if live {
		out = flushing[flowscope.Record]{out, bw} // records appear as flows end
	}
	stage.To(g, "write", recs, out)
	if o.Report != nil && o.ReportEvery > 0 {
		done := make(chan struct{})
		var wg sync.WaitGroup
		defer wg.Wait()
		defer close(done)
		wg.Go(func() {
			t := time.NewTicker(o.ReportEvery)
			defer t.Stop()
			for {
				select {
				case <-done:
					return
				case <-t.C:
				}
				var p Progress
				if live {
					for _, src := range srcs {
						st := src.Stats()
						p.Source.Packets += st.Packets
						p.Source.Bytes += st.Bytes
						p.Source.Dropped += st.Dropped
						p.Source.Filtered += st.Filtered
					}
				}
				p.Tracker = stats.Stats()
				p.OpenFlows, p.Buffered = stats.Open()
				o.Report(p)
			}
		})
	}
	err = g.Run(ctx)
	return stats.Stats(), err
}

// flushing is a sink that flushes a buffer after each write.
type flushing[T any] struct {
	sink.Sink[T]
	bw *bufio.Writer
}

func (f flushing[T]) Write(ctx context.Context, items []T) error {
	if err := f.Sink.Write(ctx, items); err != nil {
		return err
	}
	return f.bw.Flush()
}
