package flowscope_test

import (
	"math/rand/v2"
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/flowscope-go/flowscope"
	"github.com/flowscope-go/flowscope/flowkey"
	"github.com/flowscope-go/flowscope/internal/pcapgen"
)

var (
	cli = netip.MustParseAddrPort("10.0.0.1:40000")
	srv = netip.MustParseAddrPort("10.0.0.2:80")
	t0  = time.Unix(1_700_000_000, 0)
)

// run tracks pkts and flushes, returning every ended flow in order.
func run(t *testing.T, cfg *flowscope.Config, pkts []pcapgen.Packet) []flowscope.FlowRecord {
	t.Helper()
	_, recs := runTracker(t, cfg, pkts)
	return recs
}

// runTracker is run, returning the Driver too, for its counters.
func runTracker(t *testing.T, cfg *flowscope.Config, pkts []pcapgen.Packet) (*flowscope.Driver[flowkey.FiveTuple], []flowscope.FlowRecord) {
	t.Helper()
	tr := flowscope.NewDriver(flowkey.FiveTupleExtractor{}, cfg)
	var evs []flowscope.Record
	for _, p := range pkts {
		pkt := flowscope.Packet{Data: p.Data, Time: p.TS.UnixNano(), Length: len(p.Data), LinkType: flowkey.LinkEthernet}
		evs = tr.Track(&pkt, evs)
	}
	evs = tr.Flush(flowscope.EndOfInput, evs)
	if tr.Len() != 0 {
		t.Errorf("after Flush, %d flows remain open", tr.Len())
	}
	return tr, flows(evs)
}

// flows returns the conn records among recs, in order.
func flows(recs []flowscope.Record) []flowscope.FlowRecord {
	var out []flowscope.FlowRecord
	for _, r := range recs {
		if f, ok := r.(*flowscope.FlowRecord); ok {
			out = append(out, *f)
		}
	}
	return out
}

func seg(ts time.Duration, src, dst netip.AddrPort, seq, ack uint32, flags uint8, payload string) pcapgen.Packet {
	return pcapgen.Packet{TS: t0.Add(ts), Data: pcapgen.TCP(src, dst, seq, ack, flags, []byte(payload))}
}

func TestTrackerTCPStates(t *testing.T) {
	const S, A, F, R, P = pcapgen.SYN, pcapgen.ACK, pcapgen.FIN, pcapgen.RST, pcapgen.PSH
	ms := time.Millisecond
	cases := []struct {
		name    string
		pkts    []pcapgen.Packet
		state   string
		history string
		reason  flowscope.EndReason
		bytes   [2]uint64
		origIP  netip.AddrPort
	}{
		{
			name:  "full connection",
			pkts:  pcapgen.TCPConn(pcapgen.Conn{Client: cli, Server: srv, Start: t0, Exchanges: 2, ReqSize: 100, RespSize: 3000}),
			state: "SF", history: "ShADdFf", reason: flowscope.EndFIN, bytes: [2]uint64{200, 6000}, origIP: cli,
		},
		{
			name:  "server reset",
			pkts:  pcapgen.TCPConn(pcapgen.Conn{Client: cli, Server: srv, Start: t0, Exchanges: 1, ReqSize: 10, RespSize: 10, Reset: true}),
			state: "RSTR", history: "ShADdr", reason: flowscope.EndRST, bytes: [2]uint64{10, 10}, origIP: cli,
		},
		{
			name:  "attempt without reply",
			pkts:  []pcapgen.Packet{seg(0, cli, srv, 1, 0, S, ""), seg(time.Second, cli, srv, 1, 0, S, "")},
			state: "S0", history: "S", reason: flowscope.EndOfInput, origIP: cli,
		},
		{
			name:  "rejected",
			pkts:  []pcapgen.Packet{seg(0, cli, srv, 1, 0, S, ""), seg(ms, srv, cli, 0, 2, R|A, "")},
			state: "REJ", history: "Sr", reason: flowscope.EndRST, origIP: cli,
		},
		{
			name: "established, not closed",
			pkts: []pcapgen.Packet{seg(0, cli, srv, 1, 0, S, ""), seg(ms, srv, cli, 100, 2, S|A, ""),
				seg(2*ms, cli, srv, 2, 101, A, ""), seg(3*ms, cli, srv, 2, 101, P|A, "hello")},
			state: "S1", history: "ShAD", reason: flowscope.EndOfInput, bytes: [2]uint64{5, 0}, origIP: cli,
		},
		{
			name: "first packet SYN-ACK is flipped",
			pkts: []pcapgen.Packet{seg(0, srv, cli, 100, 2, S|A, ""), seg(ms, cli, srv, 2, 101, A, ""),
				seg(2*ms, cli, srv, 2, 101, P|A, "GET")},
			state: "S1", history: "^hAD", reason: flowscope.EndOfInput, bytes: [2]uint64{3, 0}, origIP: cli,
		},
		{
			name: "midstream pickup",
			pkts: []pcapgen.Packet{seg(0, cli, srv, 5000, 9000, P|A, "abc"), seg(ms, srv, cli, 9000, 5003, P|A, "defg"),
				seg(2*ms, cli, srv, 5003, 9004, A, "")},
			state: "OTH", history: "DdA", reason: flowscope.EndOfInput, bytes: [2]uint64{3, 4}, origIP: cli,
		},
		{
			name: "retransmission",
			pkts: []pcapgen.Packet{seg(0, cli, srv, 1, 0, S, ""), seg(ms, srv, cli, 100, 2, S|A, ""),
				seg(2*ms, cli, srv, 2, 101, A, ""), seg(3*ms, cli, srv, 2, 101, P|A, "hello"),
				seg(300*ms, cli, srv, 2, 101, P|A, "hello")},
			state: "S1", history: "ShADT", reason: flowscope.EndOfInput, bytes: [2]uint64{5, 0}, origIP: cli,
		},
		{
			name:  "originator SYN then FIN",
			pkts:  []pcapgen.Packet{seg(0, cli, srv, 1, 0, S, ""), seg(ms, cli, srv, 2, 0, F|A, "")},
			state: "SH", history: "SF", reason: flowscope.EndOfInput, origIP: cli,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			recs := run(t, nil, c.pkts)
			if len(recs) != 1 {
				t.Fatalf("got %d flows, want 1", len(recs))
			}
			r := recs[0]
			if got := r.State.String(); got != c.state {
				t.Errorf("conn_state = %s, want %s", got, c.state)
			}
			if got := r.History.String(); got != c.history {
				t.Errorf("history = %q, want %q", got, c.history)
			}
			if r.Reason != c.reason {
				t.Errorf("reason = %v, want %v", r.Reason, c.reason)
			}
			if got := [2]uint64{r.Stats[0].Bytes, r.Stats[1].Bytes}; got != c.bytes {
				t.Errorf("bytes = %v, want %v", got, c.bytes)
			}
			if got := netip.AddrPortFrom(r.Orig.Addr.Netip(), r.Orig.Port); got != c.origIP {
				t.Errorf("orig = %v, want %v", got, c.origIP)
			}
			if got := r.Stats[0].Packets + r.Stats[1].Packets; got != uint64(len(c.pkts)) {
				t.Errorf("packets = %d, want %d", got, len(c.pkts))
			}
		})
	}
}

func TestTrackerCountsIPBytes(t *testing.T) {
	v6c := netip.MustParseAddrPort("[2001:db8::1]:5000")
	v6s := netip.MustParseAddrPort("[2001:db8::2]:53")
	pkts := pcapgen.UDPExchange(v6c, v6s, t0, 3, 30, 200)
	recs := run(t, nil, pkts)
	if len(recs) != 1 {
		t.Fatalf("got %d flows, want 1", len(recs))
	}
	r := recs[0]
	want := [2]flowscope.SideStats{
		{Packets: 3, IPBytes: 3 * (40 + 8 + 30), PayloadBytes: 90, Bytes: 90},
		{Packets: 3, IPBytes: 3 * (40 + 8 + 200), PayloadBytes: 600, Bytes: 600},
	}
	if r.Stats != want {
		t.Errorf("stats = %+v, want %+v", r.Stats, want)
	}
	if r.State.String() != "SF" || r.History.String() != "Dd" {
		t.Errorf("state, history = %s %q, want SF \"Dd\"", r.State, r.History.String())
	}
	if r.Duration() != 21500*time.Microsecond {
		t.Errorf("duration = %v", r.Duration())
	}
}

// TestTrackerCountsPast32Bits sends more than 4 GiB one way: the byte
// counters, kept in 32 bits per flow, carry into the tracker's wide
// counters, and the flow that takes the entry next starts from zero.
func TestTrackerCountsPast32Bits(t *testing.T) {
	const n, size = 70_000, 65_000 // 4.55 GB of payload
	big := pcapgen.UDP(cli, srv, make([]byte, size))
	small := pcapgen.UDP(srv, cli, make([]byte, 10))
	tr := flowscope.NewDriver(flowkey.FiveTupleExtractor{}, nil)
	var evs []flowscope.Record
	track := func(data []byte, ts time.Time) {
		p := flowscope.Packet{Data: data, Time: ts.UnixNano(), Length: len(data), LinkType: flowkey.LinkEthernet}
		evs = tr.Track(&p, evs)
	}
	for i := range n {
		track(big, t0.Add(time.Duration(i)*time.Microsecond))
		if i%1000 == 0 {
			track(small, t0.Add(time.Duration(i)*time.Microsecond))
		}
	}
	evs = tr.Flush(flowscope.EndOfInput, evs)
	track(small, t0.Add(time.Second))
	evs = tr.Flush(flowscope.EndOfInput, evs)
	recs := flows(evs)
	if len(recs) != 2 {
		t.Fatalf("got %d flows, want 2", len(recs))
	}
	want := flowscope.SideStats{Packets: n, IPBytes: n * (20 + 8 + size), PayloadBytes: n * size, Bytes: n * size}
	if got := recs[0].Stats[flowscope.Orig]; got != want {
		t.Errorf("big side = %+v, want %+v", got, want)
	}
	if got := recs[0].Stats[flowscope.Resp].Packets; got != n/1000 {
		t.Errorf("small side: %d packets, want %d", got, n/1000)
	}
	want = flowscope.SideStats{Packets: 1, IPBytes: 20 + 8 + 10, PayloadBytes: 10, Bytes: 10}
	if got := recs[1].Stats[flowscope.Orig]; got != want {
		t.Errorf("next flow = %+v, want %+v", got, want)
	}
}

func TestTrackerIdleTimeoutSplitsFlow(t *testing.T) {
	a := pcapgen.UDPExchange(cli, srv, t0, 1, 10, 10)
	b := pcapgen.UDPExchange(cli, srv, t0.Add(2*time.Minute), 1, 10, 10)
	recs := run(t, nil, append(a, b...))
	if len(recs) != 2 {
		t.Fatalf("got %d flows, want 2", len(recs))
	}
	if recs[0].Reason != flowscope.EndIdle || recs[1].Reason != flowscope.EndOfInput {
		t.Errorf("reasons = %v, %v; want idle_timeout, end_of_input", recs[0].Reason, recs[1].Reason)
	}
	// A shorter configured timeout splits sooner.
	c := pcapgen.UDPExchange(cli, srv, t0.Add(2*time.Minute+5*time.Second), 1, 10, 10)
	recs = run(t, &flowscope.Config{UDPTimeout: 2 * time.Second}, append(append(a, b...), c...))
	if len(recs) != 3 {
		t.Errorf("with a 2s UDP timeout got %d flows, want 3", len(recs))
	}
}

func TestTrackerIdleExpiryWithoutLookup(t *testing.T) {
	// A flow that goes quiet is ended by the clock moving on, not only by
	// its own next packet.
	tr := flowscope.NewDriver(flowkey.FiveTupleExtractor{}, nil)
	var evs []flowscope.Record
	other := netip.MustParseAddrPort("10.0.0.9:9999")
	pkts := append(pcapgen.UDPExchange(cli, srv, t0, 1, 10, 10), pcapgen.UDPExchange(other, srv, t0.Add(90*time.Second), 1, 10, 10)...)
	for _, p := range pkts {
		pkt := flowscope.Packet{Data: p.Data, Time: p.TS.UnixNano(), LinkType: flowkey.LinkEthernet}
		evs = tr.Track(&pkt, evs)
	}
	if len(evs) != 1 || flows(evs)[0].Reason != flowscope.EndIdle {
		t.Fatalf("events after 90s = %d, want one idle_timeout record", len(evs))
	}
	evs = tr.Advance(t0.Add(10*time.Minute).UnixNano(), evs[:0])
	if len(evs) != 1 || flows(evs)[0].Reason != flowscope.EndIdle || tr.Len() != 0 {
		t.Fatalf("Advance ended %d flows, %d open; want 1 ended, 0 open", len(evs), tr.Len())
	}
}

func TestTrackerPortReuseAfterClose(t *testing.T) {
	a := pcapgen.TCPConn(pcapgen.Conn{Client: cli, Server: srv, Start: t0, Exchanges: 1, ReqSize: 10, RespSize: 10})
	b := pcapgen.TCPConn(pcapgen.Conn{Client: cli, Server: srv, Start: t0.Add(time.Second), Exchanges: 1, ReqSize: 10, RespSize: 10})
	recs := run(t, nil, append(a, b...))
	if len(recs) != 2 {
		t.Fatalf("got %d flows, want 2", len(recs))
	}
	for i, r := range recs {
		if r.State.String() != "SF" || r.Reason != flowscope.EndFIN {
			t.Errorf("flow %d: %s %v, want SF fin", i, r.State, r.Reason)
		}
	}
}

func TestTrackerEvictsLeastRecentlySeen(t *testing.T) {
	var pkts []pcapgen.Packet
	for i := range 3 {
		c := netip.AddrPortFrom(cli.Addr(), uint16(1000+i))
		pkts = append(pkts, pcapgen.Packet{TS: t0.Add(time.Duration(i) * time.Second), Data: pcapgen.UDP(c, srv, []byte("x"))})
	}
	recs := run(t, &flowscope.Config{MaxFlows: 2}, pkts)
	if len(recs) != 3 {
		t.Fatalf("got %d flows, want 3", len(recs))
	}
	if recs[0].Reason != flowscope.EndEvicted || recs[0].Orig.Port != 1000 {
		t.Errorf("first record = port %d %v, want port 1000 evicted", recs[0].Orig.Port, recs[0].Reason)
	}
}

func TestTrackerCountsSkippedPackets(t *testing.T) {
	tr := flowscope.NewDriver(flowkey.FiveTupleExtractor{}, nil)
	arp := make([]byte, 42)
	arp[12], arp[13] = 0x08, 0x06
	frames := []struct {
		lt   flowkey.LinkType
		data []byte
	}{
		{flowkey.LinkEthernet, arp},
		{flowkey.LinkEthernet, []byte{1, 2, 3}},
		{flowkey.LinkType(160), []byte{1, 2, 3, 4}},
		{flowkey.LinkEthernet, pcapgen.UDP(cli, srv, []byte("ok"))},
	}
	for _, f := range frames {
		p := flowscope.Packet{Data: f.data, Time: t0.UnixNano(), LinkType: f.lt}
		tr.Track(&p, nil)
	}
	st := tr.Stats()
	if st.Packets != 4 || st.NotIP != 1 || st.Truncated != 1 || st.UnsupportedLink != 1 || st.Flows != 1 {
		t.Errorf("stats = %+v", st)
	}
}

func TestTrackerZeroAllocsPerPacket(t *testing.T) {
	pkts := pcapgen.TCPConn(pcapgen.Conn{Client: cli, Server: srv, Start: t0, Exchanges: 50, ReqSize: 100, RespSize: 100})
	tr := flowscope.NewDriver(flowkey.FiveTupleExtractor{}, nil)
	evs := make([]flowscope.Record, 0, 16)
	var ps []flowscope.Packet
	for _, p := range pkts[:len(pkts)-3] { // leave the teardown out: the flow stays open
		ps = append(ps, flowscope.Packet{Data: p.Data, Time: p.TS.UnixNano(), LinkType: flowkey.LinkEthernet})
	}
	tr.Track(&ps[0], evs[:0])
	i := 0
	allocs := testing.AllocsPerRun(1000, func() {
		tr.Track(&ps[1+i%(len(ps)-1)], evs[:0])
		i++
	})
	if allocs != 0 {
		t.Errorf("Track allocates %v times per packet, want 0", allocs)
	}
}

// icmpEcho builds an Ethernet/IPv4 ICMP echo request or reply.
func icmpEcho(src, dst netip.Addr, typ byte) []byte {
	f := pcapgen.UDP(netip.AddrPortFrom(src, 0), netip.AddrPortFrom(dst, 0), make([]byte, 4))
	f[14+9] = 1 // protocol ICMP: the 8-byte "UDP header" becomes type, code, checksum, id, seq
	f[14+20] = typ
	f[14+21] = 0
	return f
}

func TestTrackerICMPEchoIsOneFlow(t *testing.T) {
	a, b := cli.Addr(), srv.Addr()
	pkts := []pcapgen.Packet{
		{TS: t0, Data: icmpEcho(a, b, 8)},
		{TS: t0.Add(time.Millisecond), Data: icmpEcho(b, a, 0)},
		{TS: t0.Add(time.Second), Data: icmpEcho(a, b, 8)},
		{TS: t0.Add(time.Second + time.Millisecond), Data: icmpEcho(b, a, 0)},
	}
	recs := run(t, nil, pkts)
	if len(recs) != 1 {
		t.Fatalf("got %d flows, want 1", len(recs))
	}
	r := recs[0]
	if r.Proto != 1 || r.Orig.Port != 8 || r.Resp.Port != 0 || r.Stats[0].Packets != 2 || r.Stats[1].Packets != 2 || r.State.String() != "OTH" {
		t.Errorf("ICMP flow = proto %d ports %d/%d packets %d/%d state %s; want 1, 8/0, 2/2, OTH",
			r.Proto, r.Orig.Port, r.Resp.Port, r.Stats[0].Packets, r.Stats[1].Packets, r.State)
	}
}

func TestTrackerMACPairCountsNonIP(t *testing.T) {
	arp := make([]byte, 42)
	copy(arp[0:6], []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	copy(arp[6:12], []byte{2, 0, 0, 0, 0, 1})
	arp[12], arp[13] = 0x08, 0x06
	tr := flowscope.NewDriver(flowkey.MACPairExtractor{}, nil)
	var evs []flowscope.Record
	for i := range 3 {
		p := flowscope.Packet{Data: arp, Time: t0.Add(time.Duration(i) * time.Second).UnixNano(), LinkType: flowkey.LinkEthernet}
		evs = tr.Track(&p, evs)
	}
	evs = tr.Flush(flowscope.EndOfInput, evs)
	if recs := flows(evs); len(recs) != 1 || recs[0].Stats[0].Packets != 3 || recs[0].IPVersion != 0 {
		t.Fatalf("ARP by MAC pair: %d records, want one non-IP flow of 3 packets", len(evs))
	}
}

func TestExtractorFunc(t *testing.T) {
	// Key by destination port only: every packet to port 80 is one flow.
	byPort := flowscope.ExtractorFunc[portKey](func(d *flowkey.Decoded, k *portKey) (bool, bool) {
		if d.IPVersion == 0 || d.Proto != flowkey.ProtoTCP {
			return false, false
		}
		*k = portKey(min(d.SrcPort, d.DstPort))
		return d.DstPort < d.SrcPort, true
	})
	tr := flowscope.NewDriver[portKey](byPort, nil)
	var evs []flowscope.Record
	for i := range 3 {
		c := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 9, 9, byte(i)}), 30000)
		for _, p := range pcapgen.TCPConn(pcapgen.Conn{Client: c, Server: srv, Start: t0.Add(time.Duration(i) * time.Minute), Exchanges: 1, ReqSize: 1, RespSize: 1}) {
			pk := flowscope.Packet{Data: p.Data, Time: p.TS.UnixNano(), LinkType: flowkey.LinkEthernet}
			evs = tr.Track(&pk, evs)
		}
	}
	// The connections end between them: three records for port 80.
	evs = tr.Flush(flowscope.EndOfInput, evs)
	if len(evs) != 3 {
		t.Fatalf("%d records, want 3", len(evs))
	}
}

type portKey uint16

func (k portKey) Hash() uint64 { return uint64(k) * 0x9e3779b97f4a7c15 }

// TestTrackerFragments checks that a datagram in fragments is tracked as
// one packet of its full length, and that Config.Fragments bounds the wait
// for the missing ones.
func TestTrackerFragments(t *testing.T) {
	dns := netip.MustParseAddrPort("10.0.0.2:53")
	whole := pcapgen.UDP(cli, dns, make([]byte, 2000))
	frags := pcapgen.Fragments(whole, 1480, 7)
	pkts := []pcapgen.Packet{{TS: t0, Data: frags[0]}, {TS: t0.Add(2 * time.Second), Data: frags[1]}}

	recs := run(t, nil, pkts)
	if len(recs) != 1 || recs[0].Stats[0].Packets != 1 || recs[0].Stats[0].IPBytes != uint64(len(whole)-14) {
		t.Fatalf("default bounds: %+v, want one flow of one %d-byte packet", recs, len(whole)-14)
	}

	cfg := &flowscope.Config{Fragments: flowkey.Defragmenter{Timeout: time.Second}}
	tr, recs := runTracker(t, cfg, pkts)
	if len(recs) != 0 {
		t.Errorf("a 1 s fragment timeout still gave %d flows", len(recs))
	}
	st := tr.Stats()
	if st.Fragments != 2 || st.Reassembled != 0 || st.FragmentsDropped != 2 {
		t.Errorf("stats %+v: want 2 fragments held, none reassembled, 2 datagrams dropped (the first timed out, the second's at the end)", st)
	}
}

// TestRecordEndpointsEveryKeyKind: a record names its originator and
// responder right whatever the key (addresses taken from the key for
// 5-tuples and IP pairs, kept apart for the others), also when the first
// packet seen is the SYN-ACK and the roles flip.
func TestRecordEndpointsEveryKeyKind(t *testing.T) {
	cli := netip.MustParseAddrPort("198.51.100.7:40000") // higher than srv: the key's reverse direction
	srv := netip.MustParseAddrPort("192.0.2.1:443")
	for _, first := range []string{"SYN", "SYN-ACK"} {
		var pkts []flowscope.Packet
		add := func(f []byte, i int) {
			pkts = append(pkts, flowscope.Packet{Data: f, Time: t0.Add(time.Duration(i) * time.Millisecond).UnixNano(), LinkType: flowkey.LinkEthernet})
		}
		if first == "SYN" {
			add(pcapgen.TCP(cli, srv, 1, 0, pcapgen.SYN, nil), 0)
		}
		add(pcapgen.TCP(srv, cli, 9, 2, pcapgen.SYN|pcapgen.ACK, nil), 1)
		add(pcapgen.TCP(cli, srv, 2, 10, pcapgen.ACK, nil), 2)
		check := func(kind string, evs []flowscope.Record) {
			t.Helper()
			if len(evs) != 1 {
				t.Fatalf("%s, first %s: %d records", kind, first, len(evs))
			}
			r := flows(evs)[0]
			if r.Orig.Addr.Netip() != cli.Addr() || r.Resp.Addr.Netip() != srv.Addr() || r.Orig.Port != cli.Port() || r.Resp.Port != srv.Port() {
				t.Errorf("%s, first %s: %v:%d -> %v:%d, want %v -> %v", kind, first, r.Orig.Addr.Netip(), r.Orig.Port, r.Resp.Addr.Netip(), r.Resp.Port, cli, srv)
			}
		}
		run := func(kind string, track func(*flowscope.Packet, []flowscope.Record) []flowscope.Record, flush func([]flowscope.Record) []flowscope.Record) {
			var evs []flowscope.Record
			for i := range pkts {
				evs = track(&pkts[i], evs)
			}
			check(kind, flush(evs))
		}
		ft := flowscope.NewDriver(flowkey.FiveTupleExtractor{}, nil)
		run("5-tuple", ft.Track, func(e []flowscope.Record) []flowscope.Record { return ft.Flush(flowscope.EndOfInput, e) })
		ip := flowscope.NewDriver(flowkey.IPPairExtractor{}, nil)
		run("IP pair", ip.Track, func(e []flowscope.Record) []flowscope.Record { return ip.Flush(flowscope.EndOfInput, e) })
		mac := flowscope.NewDriver(flowkey.MACPairExtractor{}, nil)
		run("MAC pair", mac.Track, func(e []flowscope.Record) []flowscope.Record { return mac.Flush(flowscope.EndOfInput, e) })
	}
}

// TestTrackDecodedMatchesTrack: a tracker fed packets decoded outside it
// (one Decoded reused for every packet, as a reading stage does) ends
// the same flows with the same records and counts as one that decodes
// them itself, fragments, tunnels and undecodable frames included.
func TestTrackDecodedMatchesTrack(t *testing.T) {
	type frame struct {
		lt   flowkey.LinkType
		data []byte
		ts   time.Time
	}
	var frames []frame
	for _, p := range pcapgen.Random(rand.New(rand.NewPCG(7, 7)), 300, 30*time.Second) {
		frames = append(frames, frame{flowkey.LinkEthernet, p.Data, p.TS})
	}
	end := frames[len(frames)-1].ts
	dns := netip.MustParseAddrPort("10.0.0.2:53")
	for i, f := range pcapgen.Fragments(pcapgen.UDP(cli, dns, make([]byte, 3000)), 1480, 9) {
		frames = append(frames, frame{flowkey.LinkEthernet, f, end.Add(time.Duration(i+1) * time.Millisecond)})
	}
	vxlan := append([]byte{0x08, 0, 0, 0, 0, 0, 1, 0}, pcapgen.TCP(cli, srv, 1, 0, 0x02, nil)...)
	arp := make([]byte, 42)
	arp[12], arp[13] = 0x08, 0x06
	frames = append(frames,
		frame{flowkey.LinkEthernet, pcapgen.UDP(netip.MustParseAddrPort("203.0.113.1:40000"), netip.MustParseAddrPort("203.0.113.2:4789"), vxlan), end.Add(time.Second)},
		frame{flowkey.LinkEthernet, arp, end.Add(time.Second)},
		frame{flowkey.LinkEthernet, []byte{1, 2, 3}, end.Add(time.Second)},
		frame{flowkey.LinkType(160), []byte{1, 2, 3, 4}, end.Add(time.Second)},
	)

	self := flowscope.NewDriver(flowkey.FiveTupleExtractor{}, nil)
	given := flowscope.NewDriver(flowkey.FiveTupleExtractor{}, nil)
	var dec flowkey.Decoder
	var d flowkey.Decoded
	var want, got []flowscope.Record
	for _, f := range frames {
		p := flowscope.Packet{Data: f.data, Time: f.ts.UnixNano(), Length: len(f.data), LinkType: f.lt}
		want = self.Track(&p, want)
		err := dec.Decode(p.LinkType, p.Data, &d)
		before := d
		got = given.TrackDecoded(&p, &d, err, got)
		if !reflect.DeepEqual(d, before) {
			t.Fatalf("TrackDecoded changed the Decoded it was given (decode error %v)", err)
		}
	}
	want = self.Flush(flowscope.EndOfInput, want)
	got = given.Flush(flowscope.EndOfInput, got)
	if len(want) < 300 {
		t.Fatalf("only %d events: the frames do not exercise the tracker", len(want))
	}
	if !reflect.DeepEqual(got, want) {
		for i := range min(len(got), len(want)) {
			if !reflect.DeepEqual(got[i], want[i]) {
				t.Fatalf("event %d differs:\n got  %+v\n want %+v", i, got[i], want[i])
			}
		}
		t.Fatalf("%d events, want %d", len(got), len(want))
	}
	st := self.Stats()
	if gs := given.Stats(); gs != st {
		t.Errorf("stats:\n got  %+v\n want %+v", gs, st)
	}
	if st.Reassembled != 1 || st.NotIP != 1 || st.Truncated != 1 || st.UnsupportedLink != 1 {
		t.Errorf("the odd frames were not all seen: %+v", st)
	}
}

// counter is a session and datagram parser that counts what it is fed
// and the ends; it makes no records.
type counter struct{ chunks, ends *int }

func (c counter) Data(_ flowscope.Side, _ []byte, _ int64, out []nothing) []nothing {
	*c.chunks++
	return out
}
func (c counter) Datagram(_ flowscope.Side, _ []byte, _ int64, out []nothing) []nothing {
	*c.chunks++
	return out
}
func (c counter) Gap(_ flowscope.Side, _ uint64, _ int64, out []nothing) []nothing { return out }
func (c counter) End(_ *flowscope.FlowRecord, out []nothing) []nothing {
	*c.ends++
	return out
}

// nothing is the record type of parsers that make none.
type nothing struct{ flowscope.Record }

// TestHandlersOfMixedProtocolFlow: with a key that leaves the protocol
// out, one flow can carry TCP and UDP. Its handler is the one for the
// protocol that started it; the other protocol's packets are counted in
// the flow but given to no handler (nor taken for the wrong one's).
func TestHandlersOfMixedProtocolFlow(t *testing.T) {
	base := time.Unix(1_700_000_000, 0)
	dnsSrv := netip.AddrPortFrom(srv.Addr(), 53)
	udp := pcapgen.UDP(cli, dnsSrv, []byte("datagram"))
	tcp := pcapgen.TCP(cli, srv, 1, 0, pcapgen.SYN, nil)
	data := pcapgen.TCP(cli, srv, 2, 0, pcapgen.PSH|pcapgen.ACK, []byte("stream bytes"))
	for _, tc := range []struct {
		name        string
		frames      [][]byte
		chunks, dgs int
	}{
		{"UDP first", [][]byte{udp, tcp, data, udp}, 0, 2},
		{"TCP first", [][]byte{tcp, data, udp, udp}, 1, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var chunks, streamEnds, dgs, dgEnds int
			cfg := &flowscope.Config{Parsers: []flowscope.Parser{
				flowscope.Session(flowscope.SessionFactoryFunc[nothing](func(*flowscope.Conn) flowscope.SessionParser[nothing] {
					return counter{&chunks, &streamEnds}
				})),
				flowscope.Datagram(flowscope.DatagramFactoryFunc[nothing](func(*flowscope.Conn) flowscope.DatagramParser[nothing] {
					return counter{&dgs, &dgEnds}
				})),
			}}
			tr := flowscope.NewDriver(flowkey.IPPairExtractor{}, cfg)
			var evs []flowscope.Record
			for i, f := range tc.frames {
				p := flowscope.Packet{Data: f, Time: base.Add(time.Duration(i) * time.Millisecond).UnixNano(), Length: len(f), LinkType: flowkey.LinkEthernet}
				evs = tr.Track(&p, evs)
			}
			evs = tr.Flush(flowscope.EndOfInput, evs)
			var ended int
			for _, f := range flows(evs) {
				ended++
				if got := f.Stats[flowscope.Orig].Packets + f.Stats[flowscope.Resp].Packets; got != 4 {
					t.Errorf("flow counted %d packets, want 4", got)
				}
			}
			if ended != 1 {
				t.Fatalf("%d flows ended, want 1", ended)
			}
			wantStreamEnds, wantDgEnds := 1, 0
			if tc.dgs > 0 {
				wantStreamEnds, wantDgEnds = 0, 1
			}
			if chunks < tc.chunks || (tc.chunks == 0 && chunks != 0) || dgs != tc.dgs || streamEnds != wantStreamEnds || dgEnds != wantDgEnds {
				t.Errorf("stream chunks %d, ends %d; datagrams %d, ends %d; want chunks >= %d, ends %d; datagrams %d, ends %d",
					chunks, streamEnds, dgs, dgEnds, tc.chunks, wantStreamEnds, tc.dgs, wantDgEnds)
			}
		})
	}
}

// TestNewSessionSeesFirstPacket: a session parser is made at a
// connection's first payload, and the Conn it is made with shows how the
// connection began, so that a parser can tell a connection seen from its
// SYN from one picked up in the middle. A connection without payload
// gets none.
func TestNewSessionSeesFirstPacket(t *testing.T) {
	const S, A, P = pcapgen.SYN, pcapgen.ACK, pcapgen.PSH
	data := seg(2*time.Millisecond, cli, srv, 101, 501, P|A, "GET / HTTP/1.1\r\n\r\n")
	for _, tc := range []struct {
		name    string
		pkts    []pcapgen.Packet
		history string // as the parser is made; "" for no parser
	}{
		{"SYN", []pcapgen.Packet{seg(0, cli, srv, 100, 0, S, ""), seg(time.Millisecond, cli, srv, 101, 501, A, ""), data}, "SAD"},
		{"SYN-ACK", []pcapgen.Packet{seg(0, srv, cli, 500, 101, S|A, ""), seg(time.Millisecond, cli, srv, 101, 501, A, ""), data}, "^hAD"},
		{"data", []pcapgen.Packet{data, seg(3*time.Millisecond, srv, cli, 501, 119, A, "")}, "D"},
		{"no payload", []pcapgen.Packet{seg(0, cli, srv, 100, 0, S, ""), seg(time.Millisecond, cli, srv, 101, 501, A, "")}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []flowscope.Conn
			cfg := &flowscope.Config{Parsers: []flowscope.Parser{
				flowscope.Session(flowscope.SessionFactoryFunc[nothing](func(c *flowscope.Conn) flowscope.SessionParser[nothing] {
					got = append(got, *c)
					return nil
				}))}}
			run(t, cfg, tc.pkts)
			if tc.history == "" {
				if len(got) != 0 {
					t.Fatalf("NewSession called %d times for a connection without payload", len(got))
				}
				return
			}
			if len(got) != 1 {
				t.Fatalf("NewSession called %d times, want 1", len(got))
			}
			if h := got[0].History.String(); h != tc.history || got[0].History.At(0) != h[0] {
				t.Errorf("history %q (first letter %q), want %q", h, got[0].History.At(0), tc.history)
			}
			if got[0].Orig != cli || got[0].Resp != srv || got[0].UID == "" {
				t.Errorf("conn %v -> %v uid %q, want %v -> %v and a uid", got[0].Orig, got[0].Resp, got[0].UID, cli, srv)
			}
		})
	}
}
