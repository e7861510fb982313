package analyze_test

import (
	"context"
	"io"
	"net/netip"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/flowscope-go/flowscope"
	"github.com/flowscope-go/flowscope/flowkey"
	"github.com/flowscope-go/flowscope/internal/analyze"
	"github.com/flowscope-go/flowscope/internal/pcapgen"
	"github.com/flowscope-go/flowscope/source"
)

// BenchmarkFloodMemory holds 500,000 flows of a flood in a Driver with
// the command's parsers and reports the live heap per flow, after a
// garbage collection: "syn" is one SYN a flow (a scan), "udp-dns" one DNS
// query a flow, never answered. Run it with -benchtime 1x.
func BenchmarkFloodMemory(b *testing.B) {
	ps, err := analyze.Parsers("")
	if err != nil {
		b.Fatal(err)
	}
	cli := netip.MustParseAddrPort("10.0.0.1:1024")
	srv := netip.MustParseAddrPort("192.0.2.1:53")
	query := []byte("\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x03www\x07example\x03com\x00\x00\x01\x00\x01")
	for _, c := range []struct {
		name  string
		frame []byte
	}{
		{"syn", pcapgen.TCP(cli, srv, 1, 0, pcapgen.SYN, nil)},
		{"tcp-data", pcapgen.TCP(cli, srv, 1, 1, pcapgen.ACK|pcapgen.PSH, []byte("x"))},
		{"udp-dns", pcapgen.UDP(cli, srv, query)},
	} {
		b.Run(c.name, func(b *testing.B) {
			const n = 500_000
			for b.Loop() {
				b.StopTimer()
				d := flowscope.NewDriver(flowkey.FiveTupleExtractor{}, &flowscope.Config{Parsers: ps})
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				var out []flowscope.Record
				f := c.frame
				t0 := time.Unix(1_800_000_000, 0)
				for i := range n {
					f[27], f[28], f[29] = byte(i>>16), byte(i>>8), byte(i) // the client's address
					p := flowscope.Packet{Data: f, Time: t0.Add(time.Duration(i) * time.Microsecond).UnixNano(), LinkType: flowkey.LinkEthernet}
					out = d.Track(&p, out[:0])
				}
				if d.Len() != n {
					b.Fatalf("%d flows open, want %d", d.Len(), n)
				}
				runtime.GC()
				runtime.ReadMemStats(&after)
				runtime.KeepAlive(d)
				b.StartTimer()
				b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "B/flow")
			}
		})
	}
}

// flood is a source of n packets, one a flow: frame patched with the
// flow's number at the client address (bytes 26..29).
type flood struct {
	frame []byte
	n, i  int
}

func (f *flood) ReadBatch(_ context.Context, b *source.Batch) error {
	b.Reset()
	if f.i >= f.n {
		return io.EOF
	}
	t0 := time.Unix(1_800_000_000, 0).UnixNano()
	for ; f.i < f.n && len(b.Packets) < source.DefaultBatchPackets; f.i++ {
		off := len(b.Data)
		b.Data = append(b.Data, f.frame...)
		d := b.Data[off:len(b.Data):len(b.Data)]
		d[26], d[27], d[28], d[29] = 10+byte(f.i>>24), byte(f.i>>16), byte(f.i>>8), byte(f.i)
		b.Packets = append(b.Packets, flowscope.Packet{Data: d, Time: t0 + int64(f.i)*1000, Length: len(d), LinkType: flowkey.LinkEthernet})
	}
	return nil
}

func (f *flood) Stats() source.Stats { return source.Stats{} }
func (f *flood) Close() error        { return nil }

// floodRun runs n SYNs (one a flow) through the command's job with the
// default workers and a table of maxFlows, sampling the live heap (after
// a collection) every 20 ms; it returns the peak above the heap before.
func floodRun(t testing.TB, frame []byte, n, maxFlows int) (peak uint64, st flowscope.Stats) {
	t.Helper()
	base := liveHeap()
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			if h := liveHeap(); h > base {
				peak = max(peak, h-base)
			}
		}
	})
	st, err := analyze.Run(context.Background(), &flood{frame: frame, n: n}, io.Discard,
		analyze.Options{Workers: runtime.NumCPU(), Driver: &flowscope.Config{MaxFlows: maxFlows}})
	close(done)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	return peak, st
}

// BenchmarkFloodStage floods the command's job, default workers and
// parsers, with three times the default table: 3,000,000 SYNs, or as
// many DNS queries (one a flow, never answered), and reports the peak
// live heap per flow the table holds.
//
//	go test -run '^$' -bench FloodStage -benchtime 1x ./internal/analyze
func BenchmarkFloodStage(b *testing.B) {
	for _, c := range floods() {
		if c.name == "tcp-data" {
			continue // bounded by the memory budget, not the table (TestMemoryBudget)
		}
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				peak, st := floodRun(b, c.frame, 3*flowscope.DefaultMaxFlows, 0)
				b.ReportMetric(float64(peak)/flowscope.DefaultMaxFlows, "peak-B/flow")
				b.ReportMetric(float64(st.Evicted), "evicted")
			}
		})
	}
}

// TestFloodStage holds floods of three times the table, through the
// command's job with the default workers, to the documented figures: a
// peak live heap of at most what Config.MemoryBudget charges a flow
// (256 B a SYN's, 896 B a DNS query's) for each flow the table holds,
// and a fixed overhead (batches, buffers, the parsers' set-up) of 24 MiB.
func TestFloodStage(t *testing.T) {
	for _, c := range floods() {
		if c.name == "tcp-data" {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			table := 300_000
			if c.name == "udp-dns" {
				table = 100_000
			}
			if testing.Short() || raceEnabled {
				table = 20_000 // the bound checks little then: the overhead dominates
			}
			peak, st := floodRun(t, c.frame, 3*table, table)
			t.Logf("peak live heap %.1f MB, %.0f B a flow of the table; %d evicted", float64(peak)/1e6, float64(peak)/float64(table), st.Evicted)
			if limit := uint64(table*c.charge + 24<<20); peak > limit {
				t.Errorf("peak live heap %d bytes over %d", peak, limit)
			}
			if st.Flows != uint64(3*table) || st.Evicted < uint64(2*table) {
				t.Errorf("%d flows, %d evicted; want %d flows, at least %d evicted", st.Flows, st.Evicted, 3*table, 2*table)
			}
		})
	}
}
