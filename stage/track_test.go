package stage_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flowscope-go/flowscope"
	"github.com/flowscope-go/flowscope/flowkey"
	"github.com/flowscope-go/flowscope/internal/pcapgen"
	"github.com/flowscope-go/flowscope/parsers"
	"github.com/flowscope-go/flowscope/parsers/http1"
	"github.com/flowscope-go/flowscope/sink"
	"github.com/flowscope-go/flowscope/source"
	"github.com/flowscope-go/flowscope/stage"
)

var (
	cli = netip.MustParseAddrPort("10.0.0.1:40000")
	srv = netip.MustParseAddrPort("10.0.0.2:53")
	t0  = time.Unix(1_700_000_000, 0)
)

func packets(gen []pcapgen.Packet) []flowscope.Packet {
	out := make([]flowscope.Packet, len(gen))
	for i, p := range gen {
		out[i] = flowscope.Packet{Data: p.Data, Time: p.TS.UnixNano(), Length: len(p.Data), LinkType: flowkey.LinkEthernet}
	}
	return out
}

// runFlows runs source → track(workers) → Zeek JSON and returns the output.
func runFlows(t *testing.T, ctx context.Context, src source.Source, workers int, cfg *flowscope.Config) (string, error) {
	t.Helper()
	var out bytes.Buffer
	g := stage.New(nil)
	tc := &stage.TrackConfig{Workers: workers}
	if cfg != nil {
		tc.Driver = *cfg
	}
	recs, _ := stage.Track(g, "track", flowkey.FiveTupleExtractor{}, tc, stage.FromSource(g, "read", src))
	stage.To(g, "write", recs, sink.NewLines(&out, &sink.ZeekJSON{}))
	err := g.Run(ctx)
	return out.String(), err
}

func sortedLines(s string) []string {
	l := strings.Split(strings.TrimSpace(s), "\n")
	slices.Sort(l)
	return l
}

// TestWorkerCountInvariance is a property test: for random captures,
// every worker count from 1 to 8 gives the same multiset of records,
// with every parser on.
func TestWorkerCountInvariance(t *testing.T) {
	noLeaks(t)
	// Short timeouts make idle expiry and flow splitting happen inside the
	// captures, where shard clocks matter most.
	cfg := &flowscope.Config{UDPTimeout: 3 * time.Second, TCPAttemptTimeout: 2 * time.Second, TCPEstablishedTimeout: 20 * time.Second,
		Parsers: parsers.All()}
	for seed := range uint64(6) {
		rng := rand.New(rand.NewPCG(seed, 99))
		pkts := packets(pcapgen.Random(rng, 50+rng.IntN(300), time.Duration(30+rng.IntN(300))*time.Second))
		want, err := runFlows(t, context.Background(), source.NewMemory(pkts), 1, cfg)
		if err != nil {
			t.Fatal(err)
		}
		base := sortedLines(want)
		for w := 2; w <= 8; w++ {
			got, err := runFlows(t, context.Background(), source.NewMemory(pkts), w, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if g := sortedLines(got); !slices.Equal(g, base) {
				t.Fatalf("seed %d: %d workers give %d records differing from 1 worker's %d", seed, w, len(g), len(base))
			}
		}
		if len(base) < 50 {
			t.Fatalf("seed %d: only %d records", seed, len(base))
		}
	}
}

// TestOutputIsDeterministic: the same input gives the same bytes, also
// with several workers.
func TestOutputIsDeterministic(t *testing.T) {
	pkts := packets(pcapgen.Random(rand.New(rand.NewPCG(1, 2)), 400, time.Minute))
	a, err := runFlows(t, context.Background(), source.NewMemory(pkts), 4, nil)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		b, err := runFlows(t, context.Background(), source.NewMemory(pkts), 4, nil)
		if err != nil {
			t.Fatal(err)
		}
		if a != b {
			t.Fatal("two runs on the same input gave different output")
		}
	}
}

// TestEndOfInputFlushes: every open flow ends with end_of_input.
func TestEndOfInputFlushes(t *testing.T) {
	noLeaks(t)
	c := pcapgen.TCPConn(pcapgen.Conn{Client: cli, Server: srv, Start: t0, Exchanges: 2, ReqSize: 10, RespSize: 10})
	c = c[:len(c)-3] // no teardown: the connection is open at the end
	out, err := runFlows(t, context.Background(), source.NewMemory(packets(c)), 3, nil)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(out, "\n"); n != 1 || !strings.Contains(out, `"end_reason":"end_of_input"`) || !strings.Contains(out, `"conn_state":"S1"`) {
		t.Errorf("output = %s, want one S1 record ending end_of_input", out)
	}
}

// failingSource delivers its packets, then fails.
type failingSource struct {
	*source.Memory
	err error
}

func (f *failingSource) ReadBatch(ctx context.Context, b *source.Batch) error {
	if err := f.Memory.ReadBatch(ctx, b); err != nil {
		return f.err
	}
	return nil
}

// TestReadErrorStillFlushes: packets read before a source error are
// tracked and their flows written; Run returns the error.
func TestReadErrorStillFlushes(t *testing.T) {
	noLeaks(t)
	bad := errors.New("disk on fire")
	pkts := packets(pcapgen.UDPExchange(cli, srv, t0, 3, 10, 10))
	out, err := runFlows(t, context.Background(), &failingSource{source.NewMemory(pkts), bad}, 2, nil)
	if !errors.Is(err, bad) || !strings.Contains(err.Error(), "read") {
		t.Errorf("Run = %v, want the read error naming stage read", err)
	}
	if !strings.Contains(out, `"orig_pkts":3`) {
		t.Errorf("records before the error were lost: %q", out)
	}
}

// TestCancelDoesNotFlush: cancelling a run with packets in flight and
// flows open stops it promptly, with nothing flushed: the open flows get
// no records (none ends as end_of_input) and stay open in the stats.
// The source never ends, so only the cancellation can stop the run.
func TestCancelDoesNotFlush(t *testing.T) {
	noLeaks(t)
	for _, workers := range []int{1, 3} {
		t.Run(fmt.Sprint(workers, " workers"), func(t *testing.T) {
			var n int
			endless := source.Func(func(_ context.Context, b *source.Batch) error {
				for range 64 { // a new UDP flow a packet
					c := netip.AddrPortFrom(cli.Addr(), uint16(1024+n%60000))
					p := flowscope.Packet{Data: pcapgen.UDP(c, srv, []byte("q")), Time: t0.Add(time.Duration(n) * time.Microsecond).UnixNano(), LinkType: flowkey.LinkEthernet}
					p.Length = len(p.Data)
					b.Append(p)
					n++
				}
				return nil
			})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var writes int
			var flushed []string
			g := stage.New(nil)
			recs, stats := stage.Track(g, "track", flowkey.FiveTupleExtractor{}, &stage.TrackConfig{Workers: workers},
				stage.FromSource(g, "read", endless))
			stage.To(g, "write", recs, sink.Func[flowscope.Record](func(_ context.Context, rs []flowscope.Record) error {
				for _, r := range rs {
					if f := r.(*flowscope.FlowRecord); f.Reason == flowscope.EndOfInput {
						flushed = append(flushed, f.UID())
					}
				}
				if writes++; writes == 3 {
					cancel() // packets in every channel, flows open in every shard
				}
				return nil
			}))
			done := make(chan error, 1)
			go func() { done <- g.Run(ctx) }()
			select {
			case err := <-done:
				if !errors.Is(err, context.Canceled) {
					t.Errorf("Run = %v, want context.Canceled", err)
				}
			case <-time.After(20 * time.Second):
				t.Fatal("Run did not return after the cancellation")
			}
			if len(flushed) > 0 {
				t.Errorf("a cancelled run wrote %d records of flows flushed at the end of input", len(flushed))
			}
			if open, _ := stats.Open(); open == 0 {
				t.Errorf("no flow open after the cancellation: the shards flushed them")
			}
		})
	}
}

// TestPipelineAllocationsPerPacket: the streaming path allocates per
// batch and per flow, never per packet, with one worker or several.
func TestPipelineAllocationsPerPacket(t *testing.T) {
	pkts := packets(pcapgen.TCPConn(pcapgen.Conn{Client: cli, Server: srv, Start: t0, Exchanges: 3000, ReqSize: 10, RespSize: 10}))
	for _, w := range []int{1, 3} {
		allocs := testing.AllocsPerRun(3, func() {
			g := stage.New(nil)
			recs, _ := stage.Track(g, "track", flowkey.FiveTupleExtractor{}, &stage.TrackConfig{Workers: w}, stage.FromSource(g, "read", source.NewMemory(pkts)))
			stage.Drop(g, "discard", recs)
			if err := g.Run(context.Background()); err != nil {
				t.Fatal(err)
			}
		})
		// 9,000 packets in about 9 batches: a per-packet allocation would
		// show as thousands.
		if perPacket := allocs / float64(len(pkts)); perPacket > 0.1 {
			t.Errorf("workers=%d: %.0f allocations for %d packets (%.2f per packet)", w, allocs, len(pkts), perPacket)
		}
	}
}

// TestMaxFlowsIsForTheStage: MaxFlows bounds the flows of the whole
// stage, not of each shard: 1,000 lone SYNs through 2 shards of a
// 100-flow stage evict at least 900 flows (a table of 100 per shard would
// evict only 800).
func TestMaxFlowsIsForTheStage(t *testing.T) {
	var gen []pcapgen.Packet
	for i := range 1000 {
		c := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)}), 1024)
		gen = append(gen, pcapgen.Packet{TS: t0.Add(time.Duration(i) * time.Millisecond), Data: pcapgen.TCP(c, srv, 1, 0, pcapgen.SYN, nil)})
	}
	g := stage.New(nil)
	recs, stats := stage.Track(g, "track", flowkey.FiveTupleExtractor{}, &stage.TrackConfig{Workers: 2, Driver: flowscope.Config{MaxFlows: 100}},
		stage.FromSource(g, "read", source.NewMemory(packets(gen))))
	stage.Drop(g, "drop", recs)
	if err := g.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st := stats.Stats(); st.Flows != 1000 || st.Evicted < 900 {
		t.Fatalf("%d flows, %d evicted; want 1000 flows and at least 900 evicted", st.Flows, st.Evicted)
	}
}

// TestShedUnderLoad: a shard whose output is slow falls behind a fast
// input; with Shed it drops the parsers of new flows, then new flows,
// counted, and comes back once its queue empties. Flows it tracks keep
// every record: a flow started with parsers has its http record, one
// started without has none, and every tracked flow has its conn record.
func TestShedUnderLoad(t *testing.T) {
	const conns = 2000
	var gen []pcapgen.Packet
	for i := range conns {
		c := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 9, byte(i >> 8), byte(i)}), 40000)
		gen = append(gen, pcapgen.Packet{TS: t0.Add(time.Duration(i) * time.Millisecond),
			Data: pcapgen.TCP(c, netip.MustParseAddrPort("10.0.0.2:80"), 1, 1, pcapgen.ACK|pcapgen.PSH, []byte("GET / HTTP/1.1\r\nHost: h\r\n\r\n"))})
	}
	pkts := packets(gen)
	// A source of one packet a batch, so that the queue has batches to
	// count; a writer that takes a while a batch, so that the shard
	// waits on it and its input queue fills.
	// In the second half the writer is fast and packets come at a pace
	// the shard keeps up with: it recovers.
	var next atomic.Int64
	src := source.Func(func(_ context.Context, b *source.Batch) error {
		i := int(next.Load())
		if i == len(pkts) {
			return io.EOF
		}
		if i >= len(pkts)/2 {
			time.Sleep(100 * time.Microsecond)
		}
		b.Packets = append(b.Packets, pkts[i])
		next.Add(1)
		return nil
	})
	conn, http, lateHTTP := 0, 0, 0
	slow := sink.Func[flowscope.Record](func(_ context.Context, recs []flowscope.Record) error {
		for _, r := range recs {
			switch r := r.(type) {
			case *flowscope.FlowRecord:
				conn++
			case *http1.Transaction:
				http++
				if a := r.Conn.Orig.Addr().As4(); int(a[2])<<8|int(a[3]) >= conns-300 {
					lateHTTP++
				}
			}
		}
		if next.Load() < int64(len(pkts)/2) {
			time.Sleep(50 * time.Microsecond)
		}
		return nil
	})
	g := stage.New(nil)
	tc := &stage.TrackConfig{Driver: flowscope.Config{Parsers: parsers.All()}, Shed: true}
	recs, stats := stage.Track(g, "track", flowkey.FiveTupleExtractor{}, tc, stage.FromSource(g, "read", src))
	stage.To(g, "write", recs, slow)
	if err := g.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	st := stats.Stats()
	t.Logf("%d flows, %d without parsers, %d packets shed; %d conn, %d http records", st.Flows, st.ShedParsers, st.ShedPackets, conn, http)
	if st.ShedParsers == 0 || st.ShedPackets == 0 {
		t.Errorf("nothing shed: %+v", st)
	}
	if st.Flows+st.ShedPackets != conns || uint64(conn) != st.Flows || uint64(http) != st.Flows-st.ShedParsers {
		t.Errorf("%d flows + %d shed of %d; %d conn records, %d http records (want %d)", st.Flows, st.ShedPackets, conns, conn, http, st.Flows-st.ShedParsers)
	}
	// Recovered: the last flows have their parsers.
	if lateHTTP < 200 {
		t.Errorf("%d http records of the last 300 flows: the shard did not recover", lateHTTP)
	}
}
