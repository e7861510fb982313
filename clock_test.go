package flowscope_test

import (
	"math"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/flowscope-go/flowscope"
	"github.com/flowscope-go/flowscope/flowkey"
	"github.com/flowscope-go/flowscope/internal/pcapgen"
)

// clockConn is one generated flow and the packets it must have in its
// record.
type clockConn struct {
	orig    netip.AddrPort
	packets uint64
}

// timelineCapture returns n short flows (TCP connections, UDP exchanges,
// lone SYNs), one after the other, the packets of flow i at base(i) plus
// a few milliseconds each.
func timelineCapture(n int, base func(i int) int64) ([]flowscope.Packet, []clockConn) {
	var pkts []flowscope.Packet
	var conns []clockConn
	srvAddr := netip.MustParseAddrPort("10.9.0.1:443")
	for i := range n {
		cl := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), uint16(1024+i%60000))
		var gen []pcapgen.Packet
		switch i % 3 {
		case 0:
			gen = pcapgen.TCPConn(pcapgen.Conn{Client: cl, Server: srvAddr, Start: time.Unix(0, 0), Exchanges: 1, ReqSize: 20, RespSize: 40})
		case 1:
			gen = pcapgen.UDPExchange(cl, srvAddr, time.Unix(0, 0), 2, 10, 30)
		default:
			gen = []pcapgen.Packet{{TS: time.Unix(0, 0), Data: pcapgen.TCP(cl, srvAddr, 7, 0, pcapgen.SYN, nil)}}
		}
		b := base(i)
		for _, g := range gen {
			pkts = append(pkts, flowscope.Packet{Time: b + g.TS.UnixNano(), Data: g.Data, LinkType: flowkey.LinkEthernet})
		}
		conns = append(conns, clockConn{orig: cl, packets: uint64(len(gen))})
	}
	return pkts, conns
}

// The clocks a capture can carry: every flow must get exactly one record
// with all its packets, whatever the timestamps say, and the run must end.
func TestHostileClocks(t *testing.T) {
	const year = int64(365 * 24 * time.Hour)
	y1938 := int64(-1_000_000_000_000_000_000)
	y2200 := int64(7_258_118_400) * 1e9
	rng := rand.New(rand.NewPCG(1, 2))
	timelines := []struct {
		name string
		base func(i int) int64
	}{
		{"before 1970", func(i int) int64 { return y1938 + int64(i)*int64(time.Second) }},
		{"year 2200", func(i int) int64 { return y2200 + int64(i)*int64(time.Second) }},
		{"end of int64", func(i int) int64 { return math.MaxInt64 - int64(time.Hour) + int64(i)*int64(time.Millisecond) }},
		{"start of int64", func(i int) int64 { return math.MinInt64 + int64(i)*int64(time.Millisecond) }},
		// pcap's 32-bit seconds wrapping: 2106 back to 1970 half way.
		{"32-bit wrap", func(i int) int64 {
			s := int64(1<<32-100) + int64(i)/10
			return (s % (1 << 32)) * 1e9
		}},
		{"back and forth by years", func(i int) int64 { return int64(i%2)*200*year + int64(i)*int64(time.Millisecond) }},
		{"backwards by minutes", func(i int) int64 { return y2200 - int64(i)*int64(time.Minute) }},
		{"random", func(int) int64 { return int64(rng.Uint64()) }},
	}
	for _, tl := range timelines {
		t.Run(tl.name, func(t *testing.T) {
			pkts, conns := timelineCapture(3000, tl.base)
			// A table large enough for all: each flow's record must be whole.
			whole := runClock(t, pkts, &flowscope.Config{Parsers: clockParsers()})
			for _, c := range conns {
				if got := whole[c.orig]; len(got) != 1 || got[0] != c.packets {
					t.Fatalf("flow from %v: records with %v packets, want one with %d", c.orig, got, c.packets)
				}
			}
			// A table of 100 flows: evictions on every new flow, and still
			// one record for every flow the Driver started.
			runClock(t, pkts, &flowscope.Config{MaxFlows: 100, Parsers: clockParsers()})
		})
	}
}

func clockParsers() []flowscope.Parser {
	return []flowscope.Parser{
		flowscope.Session(flowscope.SessionFactoryFunc[*countRec](func(c *flowscope.Conn) flowscope.SessionParser[*countRec] { return &byteCounter{} })),
		flowscope.Datagram(flowscope.DatagramFactoryFunc[*countRec](func(c *flowscope.Conn) flowscope.DatagramParser[*countRec] { return &byteCounter{} })),
	}
}

// runClock runs a Driver over pkts, within a deadline, and returns the
// packet counts of the records by originator; it fails unless every flow
// started got exactly one record, with sane times.
func runClock(t *testing.T, pkts []flowscope.Packet, cfg *flowscope.Config) map[netip.AddrPort][]uint64 {
	t.Helper()
	done := make(chan []flowscope.Record, 1)
	var st flowscope.Stats
	go func() {
		d := flowscope.NewDriver(flowkey.FiveTupleExtractor{}, cfg)
		var recs []flowscope.Record
		for i := range pkts {
			recs = d.Track(&pkts[i], recs)
			if i%512 == 0 {
				recs = d.Advance(pkts[i].Time, recs)
			}
		}
		recs = d.Flush(flowscope.EndOfInput, recs)
		st = d.Stats()
		done <- recs
	}()
	var recs []flowscope.Record
	select {
	case recs = <-done:
	case <-time.After(time.Minute):
		t.Fatal("the Driver did not finish in a minute")
	}
	got := map[netip.AddrPort][]uint64{}
	flows, carried, parsed := 0, 0, 0
	for _, r := range recs {
		switch r := r.(type) {
		case *flowscope.FlowRecord:
			flows++
			if r.Stats[0].PayloadBytes+r.Stats[1].PayloadBytes > 0 {
				carried++
			}
			if r.Last < r.First || r.Reason == flowscope.NotEnded {
				t.Fatalf("bad record: %+v", r)
			}
			o := netip.AddrPortFrom(r.Orig.Addr.Netip(), r.Orig.Port)
			got[o] = append(got[o], r.Stats[0].Packets+r.Stats[1].Packets)
		case *countRec:
			parsed++
		}
	}
	if uint64(flows) != st.Flows {
		t.Fatalf("%d flow records for %d flows started", flows, st.Flows)
	}
	if parsed != carried {
		t.Fatalf("%d parser records for %d flows with payload", parsed, carried)
	}
	return got
}

// countRec is the record a byteCounter makes when its flow ends.
type countRec struct{ n int }

func (*countRec) Schema() *flowscope.Schema {
	return flowscope.NewSchema("count", flowscope.Field{Name: "n", Type: flowscope.TypeCount})
}
func (r *countRec) AppendValues(vs []flowscope.Value) []flowscope.Value {
	return append(vs, flowscope.CountValue(uint64(r.n)))
}

type byteCounter struct{ n int }

func (b *byteCounter) Data(_ flowscope.Side, p []byte, _ int64, out []*countRec) []*countRec {
	b.n += len(p)
	return out
}
func (b *byteCounter) Datagram(_ flowscope.Side, p []byte, _ int64, out []*countRec) []*countRec {
	b.n += len(p)
	return out
}
func (b *byteCounter) Gap(_ flowscope.Side, _ uint64, _ int64, out []*countRec) []*countRec {
	return out
}
func (b *byteCounter) End(_ *flowscope.FlowRecord, out []*countRec) []*countRec {
	return append(out, &countRec{n: b.n})
}

// TestClockJumpEndsFlowsInParts: a jump of the clock that times out more
// flows than one call may end leaves the rest for the next calls
// (Expiring), a part each, until every flow has its record; a packet
// meanwhile goes on ending them too.
func TestClockJumpEndsFlowsInParts(t *testing.T) {
	const n = 10_000
	d := flowscope.NewDriver(flowkey.FiveTupleExtractor{}, nil)
	srv := netip.MustParseAddrPort("10.9.0.1:53")
	t0 := time.Unix(1_800_000_000, 0).UnixNano()
	var out []flowscope.Record
	for i := range n {
		cl := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)}), 5000)
		p := flowscope.Packet{Data: pcapgen.UDP(cl, srv, []byte("q")), Time: t0 + int64(i), LinkType: flowkey.LinkEthernet}
		out = d.Track(&p, out)
	}
	if len(out) != 0 {
		t.Fatalf("%d records before the jump", len(out))
	}
	later := t0 + int64(time.Hour)
	out = d.Advance(later, out)
	calls := 1
	if len(out) == 0 || len(out) >= n || !d.Expiring() {
		t.Fatalf("the jump ended %d flows in one call (expiring %v); want a part", len(out), d.Expiring())
	}
	for d.Expiring() {
		part := len(out)
		out = d.Advance(later, out)
		calls++
		if len(out)-part > 4096 {
			t.Fatalf("call %d ended %d flows", calls, len(out)-part)
		}
	}
	if len(out) != n || d.Len() != 0 {
		t.Fatalf("%d records in %d calls, %d flows open; want %d, none", len(out), calls, d.Len(), n)
	}
	for _, r := range out {
		if r.(*flowscope.FlowRecord).Reason != flowscope.EndIdle {
			t.Fatalf("reason %v, want idle", r.(*flowscope.FlowRecord).Reason)
		}
	}
}
