package analyze_test

import (
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/flowscope-go/flowscope"
	"github.com/flowscope-go/flowscope/flowkey"
	"github.com/flowscope-go/flowscope/internal/analyze"
	"github.com/flowscope-go/flowscope/internal/hostile"
	"github.com/flowscope-go/flowscope/internal/pcapgen"
	"github.com/flowscope-go/flowscope/parsers/tlshello"
)

// floods are one packet a flow, patched per flow at the client address:
// a SYN (a scan), one data segment picked up mid-stream (its connection
// gets stream handlers and every parser), one DNS query (UDP).
func floods() []struct {
	name   string
	frame  []byte
	charge int // what Config.MemoryBudget charges such a flow
} {
	cli := netip.MustParseAddrPort("10.0.0.1:1024")
	srv := netip.MustParseAddrPort("192.0.2.1:53")
	query := []byte("\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x03www\x07example\x03com\x00\x00\x01\x00\x01")
	return []struct {
		name   string
		frame  []byte
		charge int
	}{
		{"syn", pcapgen.TCP(cli, srv, 1, 0, pcapgen.SYN, nil), 256},
		{"tcp-data", pcapgen.TCP(cli, srv, 1, 1, pcapgen.ACK|pcapgen.PSH, []byte("x")), 256 + 2048},
		{"udp-dns", pcapgen.UDP(cli, srv, query), 256 + 640},
	}
}

func floodPacket(f []byte, i int) flowscope.Packet {
	f[27], f[28], f[29] = byte(i>>16), byte(i>>8), byte(i) // the client's address
	return flowscope.Packet{Data: f, Time: time.Unix(1_800_000_000, 0).Add(time.Duration(i) * time.Microsecond).UnixNano(), LinkType: flowkey.LinkEthernet}
}

func liveHeap() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// TestFlowChargesCoverHeap holds Config.MemoryBudget's charges to what
// flows of each flood take with the command's parsers, measured: the
// charge must not be less than the live heap a flow.
func TestFlowChargesCoverHeap(t *testing.T) {
	ps, err := analyze.Parsers("")
	if err != nil {
		t.Fatal(err)
	}
	n := 40_000
	if testing.Short() {
		n = 5_000
	}
	for _, c := range floods() {
		d := flowscope.NewDriver(flowkey.FiveTupleExtractor{}, &flowscope.Config{Parsers: ps})
		before := liveHeap()
		var out []flowscope.Record
		for i := range n {
			p := floodPacket(c.frame, i)
			out = d.Track(&p, out[:0])
		}
		perFlow := float64(liveHeap()-before) / float64(n)
		runtime.KeepAlive(d)
		t.Logf("%s: %.0f B a flow, charged %d", c.name, perFlow, c.charge)
		if perFlow > float64(c.charge) {
			t.Errorf("%s: %.0f B a flow live, more than the %d B charged", c.name, perFlow, c.charge)
		}
	}
}

// TestMemoryBudget floods a Driver with data connections that take ten
// times its MemoryBudget: the live heap stays within the budget (and a
// fixed overhead), the least recently seen flows go, and every flow
// still gets its record.
func TestMemoryBudget(t *testing.T) {
	ps, err := analyze.Parsers("")
	if err != nil {
		t.Fatal(err)
	}
	const budget = 8 << 20
	n := 40_000 // about 90 MB unbounded
	if testing.Short() {
		n = 10_000
	}
	frame := floods()[1].frame
	d := flowscope.NewDriver(flowkey.FiveTupleExtractor{}, &flowscope.Config{Parsers: ps, MemoryBudget: budget})
	base := liveHeap()
	var peak uint64
	records := 0
	var out []flowscope.Record
	count := func() {
		for _, r := range out {
			if _, ok := r.(*flowscope.FlowRecord); ok {
				records++
			}
		}
	}
	for i := range n {
		p := floodPacket(frame, i)
		out = d.Track(&p, out[:0])
		count()
		if i%5000 == 4999 {
			peak = max(peak, liveHeap()-base)
		}
	}
	out = d.Flush(flowscope.EndShutdown, out[:0])
	count()
	st := d.Stats()
	t.Logf("peak live heap %.1f MB for a budget of %.1f MB; %d flows ended for memory", float64(peak)/1e6, float64(budget)/1e6, st.MemoryEvicted)
	if fixed := uint64(2 << 20); peak > budget+fixed {
		t.Errorf("peak live heap %d bytes, over the budget %d and %d of overhead", peak, budget, fixed)
	}
	if st.MemoryEvicted == 0 || records != n || st.Flows != uint64(n) {
		t.Errorf("%d flows ended for memory, %d records of %d flows", st.MemoryEvicted, records, n)
	}
}

// TestMemoryBudgetCountsParsers: what parsers hold (here TLS handshake
// messages cut short, a quarter of a megabyte a connection) counts in
// the budget: past it the least recently seen connections end, and the
// live heap stays within the budget.
func TestMemoryBudgetCountsParsers(t *testing.T) {
	ps, err := analyze.Parsers("")
	if err != nil {
		t.Fatal(err)
	}
	pkts := hostile.TLSPartialHandshakes(20) // 120 connections, about 29 MB held unbounded
	const budget = 8 << 20
	for _, c := range []struct {
		name   string
		budget int
	}{{"unbounded", 0}, {"budget", budget}} {
		d := flowscope.NewDriver(flowkey.FiveTupleExtractor{}, &flowscope.Config{Parsers: ps, MemoryBudget: c.budget})
		base := liveHeap()
		var peak uint64
		var out []flowscope.Record
		ssl := 0
		for i := range pkts {
			p := flowscope.Packet{Data: pkts[i].Data, Time: pkts[i].TS.UnixNano(), LinkType: flowkey.LinkEthernet}
			out = d.Track(&p, out[:0])
			for _, r := range out {
				if _, ok := r.(*tlshello.Handshake); ok {
					ssl++
				}
			}
			if i%2000 == 1999 {
				peak = max(peak, liveHeap()-base)
			}
		}
		out = d.Flush(flowscope.EndShutdown, out[:0])
		for _, r := range out {
			if _, ok := r.(*tlshello.Handshake); ok {
				ssl++
			}
		}
		st := d.Stats()
		t.Logf("%s: peak live heap %.1f MB, %d flows ended for memory, %d ssl records", c.name, float64(peak)/1e6, st.MemoryEvicted, ssl)
		if ssl != 120 {
			t.Errorf("%s: %d ssl records, want 120", c.name, ssl)
		}
		if c.budget > 0 && (peak > uint64(c.budget)+4<<20 || st.MemoryEvicted == 0) {
			t.Errorf("%s: peak live heap %d, %d ended for memory; want within %d and some ended", c.name, peak, st.MemoryEvicted, c.budget)
		}
	}
}
