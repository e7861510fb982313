package hostile_test

import (
	"fmt"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/flowscope-go/flowscope"
	"github.com/flowscope-go/flowscope/conversation"
	"github.com/flowscope-go/flowscope/flowkey"
	"github.com/flowscope-go/flowscope/internal/hostile"
	"github.com/flowscope-go/flowscope/internal/pcapgen"
	"github.com/flowscope-go/flowscope/parsers"
	"github.com/flowscope-go/flowscope/parsers/dnsmsg"
	"github.com/flowscope-go/flowscope/parsers/http1"
	"github.com/flowscope-go/flowscope/parsers/tlshello"
)

// result is what a run of a Driver gave.
type result struct {
	stats flowscope.Stats
	flows []*flowscope.FlowRecord
	http  []*http1.Transaction
	tls   []*tlshello.Handshake
	dns   []*dnsmsg.Transaction
	// streams are the client's bytes of each TCP connection, by uid, as
	// the conversation parser read them.
	streams map[string][]byte
	// peak is the largest heap in use, sampled as the run went.
	peak uint64
}

// run feeds pkts to a Driver with every parser and the conversation
// parser, and flushes it at the end.
func run(t testing.TB, pkts []pcapgen.Packet) *result {
	t.Helper()
	ps := append(parsers.All(), flowscope.Session(conversation.Parser{}))
	d := flowscope.NewDriver(flowkey.FiveTupleExtractor{}, &flowscope.Config{Parsers: ps})
	res := &result{streams: map[string][]byte{}}
	var out []flowscope.Record
	take := func() {
		for _, r := range out {
			switch r := r.(type) {
			case *flowscope.FlowRecord:
				res.flows = append(res.flows, r)
			case *http1.Transaction:
				res.http = append(res.http, r)
			case *tlshello.Handshake:
				res.tls = append(res.tls, r)
			case *dnsmsg.Transaction:
				res.dns = append(res.dns, r)
			case *conversation.Event:
				if r.Side == flowscope.Orig && r.Gap == 0 {
					res.streams[r.Conn.UID] = append(res.streams[r.Conn.UID], r.Bytes...)
				}
			}
		}
		out = out[:0]
	}
	var ms runtime.MemStats
	for i := range pkts {
		p := flowscope.Packet{Data: pkts[i].Data, Time: pkts[i].TS.UnixNano(), LinkType: flowkey.LinkEthernet}
		out = d.Track(&p, out)
		take()
		if i%(len(pkts)/20+1) == 0 {
			runtime.ReadMemStats(&ms)
			res.peak = max(res.peak, ms.HeapAlloc)
		}
	}
	out = d.Flush(flowscope.EndShutdown, out)
	take()
	res.stats = d.Stats()
	return res
}

// TestHostile runs each class at scale 100 (10 under -race for the
// largest) and holds it to what a sensor must do with it: every flow
// reported, every byte that can be put together put together, and what
// a bound cut said in the record.
func TestHostile(t *testing.T) {
	checks := map[string]func(t *testing.T, n int, r *result){
		"syn-flood": func(t *testing.T, n int, r *result) {
			if len(r.flows) != n*1000 {
				t.Errorf("%d flow records, want %d", len(r.flows), n*1000)
			}
		},
		"udp-flood": func(t *testing.T, n int, r *result) {
			if len(r.flows) != n*1000 {
				t.Errorf("%d flow records, want %d", len(r.flows), n*1000)
			}
		},
		"tiny-fragments": func(t *testing.T, n int, r *result) {
			// Every datagram put together and tracked as a flow of its own.
			if r.stats.Reassembled != uint64(n*10) || len(r.flows) != n*10 || r.stats.FragmentsDropped != 0 {
				t.Errorf("%d reassembled, %d flows, %d dropped; want %d, %d, 0", r.stats.Reassembled, len(r.flows), r.stats.FragmentsDropped, n*10, n*10)
			}
			for _, f := range r.flows {
				if f.Stats[flowscope.Orig].Bytes != 1472 {
					t.Fatalf("a datagram of %d payload bytes, want 1472", f.Stats[flowscope.Orig].Bytes)
				}
			}
		},
		"fragment-holes": func(t *testing.T, n int, r *result) {
			if r.stats.Reassembled != 10 || r.stats.FragmentsDropped != 0 || r.stats.FragmentOverlaps != 0 {
				t.Errorf("stats %+v, want 10 datagrams reassembled, none dropped", r.stats)
			}
		},
		"reverse-segments": func(t *testing.T, n int, r *result) {
			checkStreams(t, r, 10, func(i int) []byte { return hostile.Body(i, n*80) })
		},
		"tls-repeated-message": func(t *testing.T, n int, r *result) {
			checkTLS(t, r, tlshello.TruncHistory)
		},
		"tls-alerts": func(t *testing.T, n int, r *result) {
			checkTLS(t, r, tlshello.TruncAlerts)
			for _, h := range r.tls {
				if len(h.Alerts) != tlshello.MaxAlerts {
					t.Fatalf("%d alerts kept, want %d", len(h.Alerts), tlshello.MaxAlerts)
				}
			}
		},
		"tls-byte-records": func(t *testing.T, n int, r *result) {
			checkTLS(t, r, "")
			for _, h := range r.tls {
				if !strings.Contains(h.History, "x") {
					t.Fatalf("ssl_history %q: the Certificate message sent a byte a record was not read", h.History)
				}
			}
		},
		"tls-partial-handshakes": func(t *testing.T, n int, r *result) {
			if len(r.tls) != n*6 {
				t.Fatalf("%d ssl records, want %d", len(r.tls), n*6)
			}
			for _, h := range r.tls {
				if h.Server == nil || strings.Contains(h.History, "x") {
					t.Fatalf("handshake %+v: want the server hello and no certificate", h)
				}
			}
		},
		"http-obs-fold": func(t *testing.T, n int, r *result) {
			if len(r.http) != 100 {
				t.Fatalf("%d http transactions, want 100", len(r.http))
			}
			want := "start" + strings.Repeat(" a", n*150)
			for _, tx := range r.http {
				if v, _ := tx.Request.Header("X-Folded"); v != want || tx.Response == nil || tx.Flags&http1.ObsFold == 0 {
					t.Fatalf("folded header of %d bytes (want %d), response %v, flags %v", len(v), len(want), tx.Response != nil, tx.Flags.Names())
				}
			}
		},
		"http-pipeline": func(t *testing.T, n int, r *result) {
			// Every request reported once, unanswered; those beyond the
			// bound before the end, flagged.
			if len(r.http) != n*1000 {
				t.Fatalf("%d http transactions, want %d", len(r.http), n*1000)
			}
			evicted := 0
			for i, tx := range r.http {
				if tx.Request == nil || tx.Request.Target != fmt.Sprintf("/%d", i) || tx.Response != nil {
					t.Fatalf("transaction %d: %+v", i, tx)
				}
				if tx.Flags&http1.Evicted != 0 {
					evicted++
				}
			}
			if want := max(n*1000-http1.DefaultMaxPending, 0); evicted != want {
				t.Errorf("%d evicted, want %d", evicted, want)
			}
		},
		"dns-pending": func(t *testing.T, n int, r *result) {
			if len(r.dns) != n*100 {
				t.Fatalf("%d dns transactions, want %d", len(r.dns), n*100)
			}
			for _, tx := range r.dns {
				if tx.Query == nil || tx.Response == nil || tx.Query.ID != tx.Response.ID {
					t.Fatalf("transaction %+v: want a query and its response", tx)
				}
			}
		},
		"nested-encapsulation": func(t *testing.T, n int, r *result) {
			if r.stats.Packets != uint64(n*1000) || r.stats.Malformed == 0 || len(r.flows) == 0 {
				t.Errorf("stats %+v: want some tracked, the deepest malformed", r.stats)
			}
		},
	}
	for _, c := range hostile.Classes() {
		t.Run(c.Name, func(t *testing.T) {
			check := checks[c.Name]
			if check == nil {
				t.Fatalf("no check for class %s", c.Name)
			}
			n := 100
			if raceEnabled && (c.Name == "syn-flood" || c.Name == "udp-flood" || c.Name == "tiny-fragments" || c.Name == "http-pipeline" || c.Name == "nested-encapsulation" || c.Name == "tls-partial-handshakes") {
				n = 10
			}
			pkts := c.Gen(n)
			r := run(t, pkts)
			check(t, n, r)
			t.Logf("%s x%d: %d packets, %d flows, peak heap %.1f MB", c.Name, n, len(pkts), len(r.flows), float64(r.peak)/1e6)
		})
	}
}

// checkStreams checks that the k connections' client streams are whole.
func checkStreams(t *testing.T, r *result, k int, want func(i int) []byte) {
	t.Helper()
	var got [][]byte
	for _, f := range r.flows {
		got = append(got, r.streams[f.UID()])
		if f.Streams[flowscope.Orig].GapBytes != 0 {
			t.Errorf("flow %s: %d gap bytes", f.UID(), f.Streams[flowscope.Orig].GapBytes)
		}
	}
	if len(got) != k {
		t.Fatalf("%d connections, want %d", len(got), k)
	}
	for i := range k {
		if !slices.ContainsFunc(got, func(b []byte) bool { return string(b) == string(want(i)) }) {
			t.Errorf("connection %d: its stream was not put together", i)
		}
	}
}

// checkTLS checks one handshake a connection, with what was cut noted.
func checkTLS(t *testing.T, r *result, trunc string) {
	t.Helper()
	if len(r.tls) != 10 {
		t.Fatalf("%d ssl records, want 10", len(r.tls))
	}
	for _, h := range r.tls {
		if h.Client == nil || h.Client.SNI != "hostile.example" || h.Server == nil {
			t.Fatalf("handshake %+v", h)
		}
		if len(h.History) > tlshello.MaxHistory {
			t.Fatalf("ssl_history of %d letters", len(h.History))
		}
		if trunc != "" && !slices.Contains(h.Truncated, trunc) {
			t.Fatalf("truncated %v, want %s", h.Truncated, trunc)
		}
	}
}

// BenchmarkHostile runs each class at scales 1, 10 and 100: its ns/pkt
// must stay flat (within 2x) as the input and the state it builds grow
// (ns/KiB, for classes whose packets grow with the scale).
//
//	go test -run '^$' -bench Hostile -benchtime 3x ./internal/hostile
func BenchmarkHostile(b *testing.B) {
	for _, c := range hostile.Classes() {
		for _, n := range []int{1, 10, 100} {
			b.Run(fmt.Sprintf("%s/x%d", c.Name, n), func(b *testing.B) {
				pkts := c.Gen(n)
				size := 0
				for _, p := range pkts {
					size += len(p.Data)
				}
				b.ResetTimer()
				for b.Loop() {
					run(b, pkts)
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(pkts)), "ns/pkt")
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*size)*1024, "ns/KiB")
			})
		}
	}
}

// TestHostileMemory runs each class under a memory budget (16 MiB for
// flows and what their parsers hold, 8 MiB for reassembly and causal
// order), counting records without keeping them: the live heap the run
// adds stays within the budgets and a fixed 8 MiB, whatever the class,
// and every flow started still gets its conn record.
func TestHostileMemory(t *testing.T) {
	const flowsBudget, reasmBudget, fixed = 16 << 20, 8 << 20, 8 << 20
	for _, c := range hostile.Classes() {
		t.Run(c.Name, func(t *testing.T) {
			n := 100
			if raceEnabled {
				n = 10
			}
			pkts := c.Gen(n)
			ps := append(parsers.All(), flowscope.Session(conversation.Parser{}))
			d := flowscope.NewDriver(flowkey.FiveTupleExtractor{}, &flowscope.Config{Parsers: ps,
				MemoryBudget: flowsBudget, ReassemblyBudget: reasmBudget})
			base := liveHeap()
			var peak uint64
			var out []flowscope.Record
			conns := 0
			count := func() {
				for _, r := range out {
					if _, ok := r.(*flowscope.FlowRecord); ok {
						conns++
					}
				}
				clear(out)
				out = out[:0]
			}
			every := len(pkts)/10 + 1
			for i := range pkts {
				p := flowscope.Packet{Data: pkts[i].Data, Time: pkts[i].TS.UnixNano(), LinkType: flowkey.LinkEthernet}
				out = d.Track(&p, out)
				count()
				if i%every == every-1 {
					peak = max(peak, liveHeap()-min(base, liveHeap()))
				}
			}
			out = d.Flush(flowscope.EndShutdown, out)
			count()
			st := d.Stats()
			t.Logf("x%d: peak live heap %.1f MB, %d flows (%d ended for memory)", n, float64(peak)/1e6, st.Flows, st.MemoryEvicted)
			if peak > flowsBudget+reasmBudget+fixed {
				t.Errorf("peak live heap %d bytes, over the budgets and %d", peak, fixed)
			}
			if uint64(conns) != st.Flows {
				t.Errorf("%d conn records for %d flows", conns, st.Flows)
			}
		})
	}
}

func liveHeap() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}
