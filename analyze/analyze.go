// Package analyze is the flowscope command's job as a library call: read
// packets from a source, track flows, reassemble TCP streams, parse the
// protocols asked for, and write Zeek-named JSON Lines (and transcripts)
// in the same order on every run.
//
// It wires the stage, conversation, parsers and sink packages together;
// programs that need another shape build their own graph from those.
package analyze

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/flowscope-go/flowscope"
	"github.com/flowscope-go/flowscope/conversation"
	"github.com/flowscope-go/flowscope/flowkey"
	"github.com/flowscope-go/flowscope/parsers/dnsmsg"
	"github.com/flowscope-go/flowscope/parsers/http1"
	"github.com/flowscope-go/flowscope/parsers/tlshello"
	"github.com/flowscope-go/flowscope/sink"
	"github.com/flowscope-go/flowscope/source"
	"github.com/flowscope-go/flowscope/stage"
)

// Protocols are the parsers Run can run, by --protocols name.
var Protocols = []string{"http", "dns", "tls"}

// ParseProtocols reads a comma-separated list of protocol names: empty
// means all of Protocols, "none" none (flow records only).
func ParseProtocols(list string) (map[string]bool, error) {
	on := map[string]bool{}
	if strings.TrimSpace(list) == "" {
		for _, p := range Protocols {
			on[p] = true
		}
		return on, nil
	}
	for _, p := range strings.Split(list, ",") {
		p = strings.ToLower(strings.TrimSpace(p))
		switch {
		case p == "none":
		case slices.Contains(Protocols, p):
			on[p] = true
		default:
			return nil, fmt.Errorf("unknown protocol %q in --protocols (known: %s, none)", p, strings.Join(Protocols, ", "))
		}
	}
	return on, nil
}

// Options says what Run does. The zero Options tracks flows on one worker
// with every parser on and no transcripts.
type Options struct {
	// Workers is the number of flow-tracking shards; zero means one.
	Workers int
	// Protocols selects parsers (see ParseProtocols); nil means all.
	Protocols map[string]bool
	// Transcripts, when set, receives every TCP connection's streams.
	Transcripts *sink.Transcripts
	// Tracker configures the trackers (nil means defaults). Its NewStream
	// is replaced.
	Tracker *flowscope.Config
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
	// Tracker sums the trackers' counters.
	Tracker flowscope.Stats
	// OpenFlows and Buffered are the flows open and the bytes held for
	// TCP reassembly.
	OpenFlows, Buffered int
}

// Run reads src to its end and writes conn and protocol records to w as
// JSON Lines. It returns the tracker counters and the first error: a
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
	protocols := o.Protocols
	if protocols == nil {
		protocols, _ = ParseProtocols("")
	}
	workers := max(o.Workers, 1)
	if live {
		workers = len(srcs)
	}
	// One buffer for every record kind: conn and http lines interleave
	// whole, in the same order on every run (stage.ToPair).
	bw := bufio.NewWriterSize(w, 256<<10)
	var events sink.Sink[flowscope.FlowEvent] = sink.NewZeek(bw)
	var records sink.Sink[sink.Record] = sink.NewZeekRecords(bw)
	if live {
		// ToPair writes a batch of events, then one of records: flushing
		// after the records puts each batch's lines out together.
		records = flushing[sink.Record]{records, bw}
	}
	sinks := sink.Tee[flowscope.FlowEvent]{events}
	if o.Transcripts != nil {
		sinks = append(sinks, o.Transcripts.Index())
	}
	g := stage.New(nil)
	shardCfg := stage.ShardConfig(o.Tracker, workers)
	newTracker := func(emit func(sink.Record)) *flowscope.Tracker[flowkey.FiveTuple] {
		cfg := shardCfg
		cfg.NewStream = streamHandlers(o.Transcripts, protocols, emit)
		if protocols["dns"] {
			cfg.NewDatagram = func(rec *flowscope.FlowRecord) flowscope.DatagramHandler {
				conn := sink.ConnOf(rec)
				return flowscope.DatagramHandlerFor(dnsmsg.Parser{}.NewDatagram(rec), func(tx *dnsmsg.Transaction) {
					emit(sink.Record{Conn: conn, DNS: tx})
				})
			}
		}
		return flowscope.NewTracker(flowkey.FiveTupleExtractor{}, &cfg)
	}
	var evs stage.Port[*stage.Batch[flowscope.FlowEvent]]
	var recs stage.Port[*stage.Batch[sink.Record]]
	var stats *stage.TrackStats
	if live {
		ins := make([]stage.Port[*stage.Batch[flowscope.Packet]], len(srcs))
		for i, src := range srcs {
			ins[i] = stage.FromSource(g, fmt.Sprintf("read-%d", i), src)
		}
		evs, recs, stats = stage.TrackSideSharded(g, "track", ins, flowscope.EndShutdown, newTracker)
	} else {
		pkts := stage.FromSource(g, "read", srcs[0])
		evs, recs, stats = stage.TrackSide(g, "track", pkts, workers, flowkey.FiveTupleExtractor{}, newTracker)
	}
	stage.ToPair(g, "write", evs, recs, sinks, records)
	if o.Report != nil && o.ReportEvery > 0 {
		done := make(chan struct{})
		defer close(done)
		go func() {
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
		}()
	}
	err := g.Run(ctx)
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

// streamHandlers returns what each TCP connection's reassembled streams
// go to: the protocol parsers (their messages to emit) and the transcript
// writer, all fed in causal order. Each parser finds its protocol by
// content and gives up on the others. Streams are reassembled even when
// nothing reads them, as Zeek does, so that conn records count missed
// bytes.
func streamHandlers(transcripts *sink.Transcripts, protocols map[string]bool, emit func(sink.Record)) flowscope.NewStreamFunc {
	if transcripts == nil && !protocols["http"] && !protocols["tls"] && !protocols["dns"] {
		// Nothing reads the bytes: no causal ordering (which holds chunks
		// back), only the reassembly that counts missed bytes.
		return func(*flowscope.FlowRecord) flowscope.StreamHandler { return flowscope.Discard }
	}
	return conversation.Ordered(func(rec *flowscope.FlowRecord) flowscope.StreamHandler {
		hs := make([]flowscope.StreamHandler, 0, 4)
		conn := sink.ConnOf(rec)
		if protocols["http"] {
			hs = append(hs, flowscope.SessionHandler(http1.Parser{}.NewSession(rec), func(tx *http1.Transaction) {
				emit(sink.Record{Conn: conn, HTTP: tx})
			}))
		}
		if protocols["tls"] {
			hs = append(hs, flowscope.SessionHandler(tlshello.Parser{}.NewSession(rec), func(h *tlshello.Handshake) {
				emit(sink.Record{Conn: conn, TLS: h})
			}))
		}
		if protocols["dns"] {
			hs = append(hs, flowscope.SessionHandler(dnsmsg.Parser{}.NewSession(rec), func(tx *dnsmsg.Transaction) {
				emit(sink.Record{Conn: conn, DNS: tx})
			}))
		}
		if transcripts != nil {
			hs = append(hs, transcripts.NewStream(rec))
		}
		if h := flowscope.TeeStreams(hs...); h != nil {
			return h
		}
		return flowscope.StreamFuncs{}
	})
}
