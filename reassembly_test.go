package flowscope

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"runtime"
	"testing"
	"time"

	"github.com/flowscope-go/flowscope/flowkey"
	"github.com/flowscope-go/flowscope/internal/pcapgen"
)

// collector rebuilds each side's stream from chunks, and checks that
// chunks arrive in order.
type collector struct {
	t      testing.TB
	data   [2][]byte
	gaps   [2][][2]uint64 // offset, size
	next   [2]uint64
	ended  int
	record FlowRecord
}

func (c *collector) Chunk(ch *chunk) {
	if ch.Offset != c.next[ch.Side] {
		c.t.Errorf("%v chunk at offset %d, want %d", ch.Side, ch.Offset, c.next[ch.Side])
	}
	if ch.Gap > 0 {
		c.gaps[ch.Side] = append(c.gaps[ch.Side], [2]uint64{ch.Offset, ch.Gap})
		c.next[ch.Side] += ch.Gap
		return
	}
	c.data[ch.Side] = append(c.data[ch.Side], ch.Bytes...)
	c.next[ch.Side] += uint64(len(ch.Bytes))
}

func (c *collector) End(rec *FlowRecord) {
	c.ended++
	c.record = *rec
}

// span is one data segment of the client's stream.
type span struct{ off, n int }

// segmentRandomly cuts n bytes into segments of 1..max bytes.
func segmentRandomly(rng *rand.Rand, n, maxSeg int) []span {
	var out []span
	for off := 0; off < n; {
		l := min(1+rng.IntN(maxSeg), n-off)
		out = append(out, span{off, l})
		off += l
	}
	return out
}

// conversation builds a connection that carries data from client to
// server in the given segments (in the given order), with handshake and
// FIN, starting at client ISN isn.
func conversation(data []byte, segs []span, isn uint32) []pcapgen.Packet {
	c, s := cli, srv
	ts := t0
	var out []pcapgen.Packet
	add := func(f []byte) {
		out = append(out, pcapgen.Packet{TS: ts, Data: f})
		ts = ts.Add(time.Millisecond)
	}
	add(pcapgen.TCP(c, s, isn, 0, pcapgen.SYN, nil))
	add(pcapgen.TCP(s, c, 9000, isn+1, pcapgen.SYN|pcapgen.ACK, nil))
	add(pcapgen.TCP(c, s, isn+1, 9001, pcapgen.ACK, nil))
	for _, g := range segs {
		add(pcapgen.TCP(c, s, isn+1+uint32(g.off), 9001, pcapgen.PSH|pcapgen.ACK, data[g.off:g.off+g.n]))
	}
	fin := isn + 1 + uint32(len(data))
	add(pcapgen.TCP(c, s, fin, 9001, pcapgen.FIN|pcapgen.ACK, nil))
	add(pcapgen.TCP(s, c, 9001, fin+1, pcapgen.FIN|pcapgen.ACK, nil))
	add(pcapgen.TCP(c, s, fin+1, 9002, pcapgen.ACK, nil))
	return out
}

func reassembleAll(t testing.TB, pkts []pcapgen.Packet, cfg testConfig) *collector {
	col := &collector{t: t}
	cfg.NewStream = func(*FlowRecord) streamHandler { return col }
	tr := newTestTracker(flowkey.FiveTupleExtractor{}, &cfg)
	var evs []FlowRecord
	for _, p := range pkts {
		pk := Packet{Data: p.Data, Time: p.TS.UnixNano(), Length: len(p.Data), LinkType: flowkey.LinkEthernet}
		evs = tr.Track(&pk, evs[:0])
	}
	tr.Flush(EndOfInput, evs[:0])
	if col.ended != 1 {
		t.Fatalf("End called %d times, want once", col.ended)
	}
	return col
}

// TestReassemblyProperty: any segmentation, reordering within the buffer
// bound, duplication, and overlap with consistent bytes give back the
// original stream, with no gap, across sequence-number wraparound.
func TestReassemblyProperty(t *testing.T) {
	for seed := range uint64(200) {
		rng := rand.New(rand.NewPCG(seed, 3))
		data := make([]byte, 1+rng.IntN(20000))
		for i := range data {
			data[i] = byte(rng.Uint32())
		}
		segs := segmentRandomly(rng, len(data), 1+rng.IntN(1500))
		// Duplicates and consistent overlaps: re-send random ranges.
		for range rng.IntN(len(segs) + 1) {
			off := rng.IntN(len(data))
			segs = append(segs, span{off, 1 + rng.IntN(min(3000, len(data)-off))})
		}
		// Reorder: shuffle within windows of up to 8 segments.
		w := 1 + rng.IntN(8)
		for i := 0; i < len(segs); i += w {
			win := segs[i:min(i+w, len(segs))]
			rng.Shuffle(len(win), func(a, b int) { win[a], win[b] = win[b], win[a] })
		}
		isn := rng.Uint32()
		if seed%4 == 0 {
			isn = ^uint32(0) - uint32(rng.IntN(3000)) // wraps inside the stream
		}
		col := reassembleAll(t, conversation(data, segs, isn), testConfig{})
		if !bytes.Equal(col.data[Orig], data) {
			t.Fatalf("seed %d: reassembled %d bytes differ from the %d sent (isn %d, %d segments)",
				seed, len(col.data[Orig]), len(data), isn, len(segs))
		}
		if len(col.gaps[0])+len(col.gaps[1]) != 0 || col.record.MissedBytes != 0 {
			t.Fatalf("seed %d: gaps %v, missed %d; want none", seed, col.gaps, col.record.MissedBytes)
		}
		if h := col.record.History.String(); bytes.ContainsAny([]byte(h), "Gg") {
			t.Fatalf("seed %d: history %q has a gap letter", seed, h)
		}
	}
}

// TestReassemblyDroppedSegment: a segment missing from the capture gives
// exactly one gap of its size at its offset, and every byte after it.
func TestReassemblyDroppedSegment(t *testing.T) {
	for seed := range uint64(100) {
		rng := rand.New(rand.NewPCG(seed, 4))
		data := make([]byte, 2000+rng.IntN(20000))
		for i := range data {
			data[i] = byte(rng.Uint32())
		}
		segs := segmentRandomly(rng, len(data), 1460)
		if len(segs) < 3 {
			continue
		}
		k := 1 + rng.IntN(len(segs)-2) // neither the first nor the last
		lost := segs[k]
		segs = append(segs[:k:k], segs[k+1:]...)
		col := reassembleAll(t, conversation(data, segs, rng.Uint32()), testConfig{})
		want := append(append([]byte(nil), data[:lost.off]...), data[lost.off+lost.n:]...)
		if !bytes.Equal(col.data[Orig], want) {
			t.Fatalf("seed %d: bytes around the gap differ", seed)
		}
		if g := col.gaps[Orig]; len(g) != 1 || g[0] != [2]uint64{uint64(lost.off), uint64(lost.n)} {
			t.Fatalf("seed %d: gaps %v, want one at %d of %d bytes", seed, g, lost.off, lost.n)
		}
		r := col.record
		if r.MissedBytes != uint64(lost.n) || r.Streams[Orig].GapBytes != uint64(lost.n) {
			t.Fatalf("seed %d: missed_bytes %d, want %d", seed, r.MissedBytes, lost.n)
		}
		if h := r.History.String(); !bytes.ContainsRune([]byte(h), 'G') {
			t.Fatalf("seed %d: history %q lacks the gap letter", seed, h)
		}
	}
}

// TestReassemblyAckedGapDeclaredAfterWait: when the receiver acknowledges
// bytes not captured and the sender moves on, the hole waits
// ReorderPackets packets for them (they may come late), then is declared
// at once, not at the end of the connection.
func TestReassemblyAckedGapDeclaredAfterWait(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789"), 300)
	isn := uint32(1000)
	pk := func(ts time.Duration, src, dst netip.AddrPort, seq, ack uint32, flags uint8, p []byte) pcapgen.Packet {
		return pcapgen.Packet{TS: t0.Add(ts), Data: pcapgen.TCP(src, dst, seq, ack, flags, p)}
	}
	ms := time.Millisecond
	pkts := []pcapgen.Packet{
		pk(0, cli, srv, isn, 0, pcapgen.SYN, nil),
		pk(1*ms, srv, cli, 9000, isn+1, pcapgen.SYN|pcapgen.ACK, nil),
		pk(2*ms, cli, srv, isn+1, 9001, pcapgen.ACK, nil),
		pk(3*ms, cli, srv, isn+1, 9001, pcapgen.ACK, data[:1000]),
		// data[1000:2000] is not in the capture, but the server has it:
		pk(5*ms, srv, cli, 9001, isn+1+2000, pcapgen.ACK, nil),
		pk(6*ms, cli, srv, isn+1+2000, 9001, pcapgen.ACK, data[2000:]), // the wait opens
	}
	const wait = 3
	for i := range wait + 2 {
		pkts = append(pkts, pk(time.Duration(7+i)*ms, srv, cli, 9001, isn+1+uint32(len(data)), pcapgen.ACK, nil))
	}
	col := &collector{t: t}
	var gapAt int
	count := 0
	tr := newTestTracker(flowkey.FiveTupleExtractor{}, &testConfig{
		ReorderPackets: wait,
		NewStream: func(*FlowRecord) streamHandler {
			return streamFuncs{OnChunk: func(c *chunk) {
				col.Chunk(c)
				if c.Gap > 0 {
					gapAt = count
				}
			}, OnEnd: col.End}
		},
	})
	for _, p := range pkts {
		count++
		pkt := Packet{Data: p.Data, Time: p.TS.UnixNano(), LinkType: flowkey.LinkEthernet}
		tr.Track(&pkt, nil)
	}
	if want := 6 + wait; gapAt != want {
		t.Errorf("gap declared at packet %d, want %d (%d packets after the wait opened)", gapAt, want, wait)
	}
	if got := string(col.data[Orig]); got != string(data[:1000])+string(data[2000:]) {
		t.Errorf("delivered %d bytes before the end of the connection, want %d", len(got), len(data)-1000)
	}
	tr.Flush(EndOfInput, nil)
	if g := col.gaps[Orig]; len(g) != 1 || g[0] != [2]uint64{1000, 1000} {
		t.Errorf("gaps %v, want one of 1000 bytes at 1000", g)
	}
}

// TestReassemblyAckPastHoleDeclaresIt: data buffered behind a hole goes
// to the handler once the receiver has acknowledged past the hole and the
// wait for late bytes is over (here, with ReorderWindow, 1 ms of packet
// time), not when the sender next sends (never, on a connection that has
// gone quiet); an acknowledgement that covers only part of the hole
// declares that part.
func TestReassemblyAckPastHoleDeclaresIt(t *testing.T) {
	data := bytes.Repeat([]byte("abcdefghij"), 400)
	isn, sisn := uint32(5000), uint32(9000)
	ms := time.Millisecond
	pk := func(ts time.Duration, src, dst netip.AddrPort, seq, ack uint32, flags uint8, p []byte) pcapgen.Packet {
		return pcapgen.Packet{TS: t0.Add(ts), Data: pcapgen.TCP(src, dst, seq, ack, flags, p)}
	}
	for _, tc := range []struct {
		name       string
		acks       []uint32 // stream offsets the server acknowledges, in turn
		wantData   string
		wantGaps   [][2]uint64
		wantBuffer bool
	}{
		{"past the hole and the data behind it", []uint32{4000}, string(data[:1000]) + string(data[2000:]), [][2]uint64{{1000, 1000}}, false},
		{"to the hole's end", []uint32{2000}, string(data[:1000]) + string(data[2000:]), [][2]uint64{{1000, 1000}}, false},
		{"into the hole, then past it", []uint32{1500, 3000}, string(data[:1000]) + string(data[2000:]), [][2]uint64{{1000, 500}, {1500, 500}}, false},
		{"into the hole only", []uint32{1500}, string(data[:1000]), [][2]uint64{{1000, 500}}, true},
		{"not past the delivered bytes", []uint32{1000}, string(data[:1000]), nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pkts := []pcapgen.Packet{
				pk(0, cli, srv, isn, 0, pcapgen.SYN, nil),
				pk(1*ms, srv, cli, sisn, isn+1, pcapgen.SYN|pcapgen.ACK, nil),
				pk(2*ms, cli, srv, isn+1, sisn+1, pcapgen.ACK, nil),
				pk(3*ms, cli, srv, isn+1, sisn+1, pcapgen.ACK, data[:1000]),
				// data[1000:2000] is missed by the capture.
				pk(4*ms, cli, srv, isn+1+2000, sisn+1, pcapgen.ACK, data[2000:3000]),
				pk(5*ms, cli, srv, isn+1+3000, sisn+1, pcapgen.PSH|pcapgen.ACK, data[3000:]),
			}
			for i, a := range tc.acks {
				// Each acknowledgement twice, 2 ms apart: the second ends
				// the wait the first opened.
				pkts = append(pkts, pk(time.Duration(6+4*i)*ms, srv, cli, sisn+1, isn+1+a, pcapgen.ACK, nil),
					pk(time.Duration(8+4*i)*ms, srv, cli, sisn+1, isn+1+a, pcapgen.ACK, nil))
			}
			col := &collector{t: t}
			tr := newTestTracker(flowkey.FiveTupleExtractor{}, &testConfig{
				ReorderWindow: time.Millisecond,
				NewStream:     func(*FlowRecord) streamHandler { return col },
			})
			for _, p := range pkts {
				pkt := Packet{Data: p.Data, Time: p.TS.UnixNano(), LinkType: flowkey.LinkEthernet}
				tr.Track(&pkt, nil)
			}
			// Nothing more comes: what is delivered now is what the
			// acknowledgements released.
			if got := string(col.data[Orig]); got != tc.wantData {
				t.Errorf("delivered %d bytes before the connection ended, want %d", len(got), len(tc.wantData))
			}
			if fmt.Sprint(col.gaps[Orig]) != fmt.Sprint(tc.wantGaps) {
				t.Errorf("gaps %v, want %v", col.gaps[Orig], tc.wantGaps)
			}
			if buffered := tr.Buffered() > 0; buffered != tc.wantBuffer {
				t.Errorf("tracker holds %d buffered bytes, want some: %v", tr.Buffered(), tc.wantBuffer)
			}
			tr.Flush(EndOfInput, nil)
			if got := string(col.data[Orig]); got != string(data[:1000])+string(data[2000:]) {
				t.Errorf("after the end, %d bytes delivered, want %d", len(got), len(data)-1000)
			}
			if col.record.MissedBytes != 1000 {
				t.Errorf("missed bytes %d, want 1000", col.record.MissedBytes)
			}
		})
	}
}

// TestReassemblyLateSegmentFillsHole: a segment captured after data that
// follows it (and after the peer's acknowledgement of it) still fills its
// hole, as long as the sender has not moved on.
func TestReassemblyLateSegmentFillsHole(t *testing.T) {
	data := []byte("GET /index.html HTTP/1.1\r\nHost: example\r\n\r\n")
	resp := []byte("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
	isn, sisn := uint32(7), uint32(9000)
	ms := time.Millisecond
	pk := func(ts time.Duration, src, dst netip.AddrPort, seq, ack uint32, flags uint8, p []byte) pcapgen.Packet {
		return pcapgen.Packet{TS: t0.Add(ts), Data: pcapgen.TCP(src, dst, seq, ack, flags, p)}
	}
	pkts := []pcapgen.Packet{
		pk(0, cli, srv, isn, 0, pcapgen.SYN, nil),
		pk(1*ms, srv, cli, sisn, isn+1, pcapgen.SYN|pcapgen.ACK, nil),
		pk(2*ms, cli, srv, isn+1, sisn+1, pcapgen.ACK, nil),
		pk(3*ms, cli, srv, isn+1, sisn+1, pcapgen.ACK, data[:10]),
		// The response, acknowledging the whole request, is captured
		// before the request's last segment.
		pk(5*ms, srv, cli, sisn+1, isn+1+uint32(len(data)), pcapgen.PSH|pcapgen.ACK, resp),
		pk(4*ms, cli, srv, isn+1+10, sisn+1, pcapgen.PSH|pcapgen.ACK, data[10:]),
	}
	col := reassembleAll(t, pkts, testConfig{})
	if string(col.data[Orig]) != string(data) || string(col.data[Resp]) != string(resp) {
		t.Errorf("streams %q / %q", col.data[0], col.data[1])
	}
	if len(col.gaps[0])+len(col.gaps[1]) != 0 {
		t.Errorf("gaps %v, want none", col.gaps)
	}
}

// TestReassemblyOverlapPolicy: overlapping buffered segments with
// different bytes are counted as inconsistent, and the policy picks them.
func TestReassemblyOverlapPolicy(t *testing.T) {
	data := []byte("aaaaaaaaaabbbbbbbbbbcccccccccc")
	evil := []byte("XXXXX")
	for _, c := range []struct {
		policy OverlapPolicy
		want   string
	}{
		{FirstWins, string(data)},
		{LastWins, "aaaaaaaaaabbbbbXXXXXcccccccccc"},
	} {
		segs := []span{{10, 10}, {20, 10}, {0, 10}}
		pkts := conversation(data, segs, 100)
		// After the segment at 10 is buffered, a different copy of its
		// second half arrives, then the hole at 0 fills.
		bad := pcapgen.Packet{TS: pkts[3].TS.Add(time.Microsecond), Data: pcapgen.TCP(cli, srv, 100+1+15, 9001, pcapgen.ACK, evil)}
		pkts = append(pkts[:4:4], append([]pcapgen.Packet{bad}, pkts[4:]...)...)
		col := reassembleAll(t, pkts, testConfig{Overlap: c.policy})
		if got := string(col.data[Orig]); got != c.want {
			t.Errorf("policy %d: stream %q, want %q", c.policy, got, c.want)
		}
		if st := col.record.Streams[Orig]; st.Inconsistent != 1 || st.Overlaps != 1 {
			t.Errorf("policy %d: inconsistent %d overlaps %d, want 1 and 1", c.policy, st.Inconsistent, st.Overlaps)
		}
	}
}

// TestReassemblyMidstreamPickup: a connection seen without its handshake
// is reassembled from the first byte seen.
func TestReassemblyMidstreamPickup(t *testing.T) {
	data := []byte("0123456789abcdefghij")
	pkts := conversation(data, []span{{0, 5}, {5, 5}, {10, 10}}, 500)[3:] // no handshake
	col := reassembleAll(t, pkts, testConfig{})
	if string(col.data[Orig]) != string(data) {
		t.Errorf("stream %q, want %q", col.data[0], data)
	}
}

// TestReassemblyBounds: a side that holds more out-of-order bytes than its
// bound gives up its hole instead of growing.
func TestReassemblyBounds(t *testing.T) {
	data := make([]byte, 100_000)
	for i := range data {
		data[i] = byte(i)
	}
	segs := segmentRandomly(rand.New(rand.NewPCG(1, 1)), len(data), 1000)
	segs = segs[1:] // the first segment never arrives
	col := reassembleAll(t, conversation(data, segs, 1), testConfig{MaxBufferPerSide: 10_000})
	r := col.record
	if r.Streams[Orig].PeakBuffered > 10_000 {
		t.Errorf("held %d out-of-order bytes with a bound of 10000", r.Streams[Orig].PeakBuffered)
	}
	if g := col.gaps[Orig]; len(g) != 1 || g[0][0] != 0 {
		t.Errorf("gaps %v, want one at offset 0", g)
	}
	if len(col.data[Orig]) != len(data)-int(col.gaps[Orig][0][1]) {
		t.Errorf("delivered %d bytes", len(col.data[Orig]))
	}
}

func TestReassemblyInOrderZeroAllocs(t *testing.T) {
	pkts := inOrderPackets()
	var n uint64
	h := streamFuncs{OnChunk: func(c *chunk) { n += uint64(len(c.Bytes)) }}
	tr := newTestTracker(flowkey.FiveTupleExtractor{}, &testConfig{
		NewStream: func(*FlowRecord) streamHandler { return h },
	})
	evs := make([]FlowRecord, 0, 4)
	for _, p := range pkts[:10] {
		tr.Track(&p, evs[:0])
	}
	i := 10
	allocs := testing.AllocsPerRun(500, func() {
		tr.Track(&pkts[i], evs[:0])
		i++
	})
	if allocs != 0 {
		t.Errorf("in-order segment costs %v allocations, want 0", allocs)
	}
	if n == 0 {
		t.Error("no bytes delivered")
	}
	_ = fmt.Sprint
}

// TestReassemblyGlobalBudget: 100,000 connections, each with a permanent
// hole followed by out-of-order data, stay within the global budget, and
// every hole is reported as a gap.
func TestReassemblyGlobalBudget(t *testing.T) {
	flows, segs, segSize := 100_000, 5, 200
	if testing.Short() {
		flows = 10_000
	}
	const budget = 8 << 20
	run := func(hole bool) (heap uint64, gaps int, tr *testTracker[flowkey.FiveTuple]) {
		payload := make([]byte, segSize)
		gapCount := 0
		h := streamFuncs{OnChunk: func(c *chunk) {
			if c.Gap > 0 {
				gapCount++
			}
		}}
		tr = newTestTracker(flowkey.FiveTupleExtractor{}, &testConfig{
			ReassemblyBudget: budget,
			NewStream:        func(*FlowRecord) streamHandler { return h },
		})
		ts := t0
		for k := range segs + 1 {
			if k == 1 && hole {
				continue // the second segment of every connection is lost
			}
			for f := range flows {
				c := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, byte(f >> 16), byte(f >> 8), byte(f)}), 5000)
				frame := pcapgen.TCP(c, srv, uint32(1+k*segSize), 1, pcapgen.ACK, payload)
				p := Packet{Data: frame, Time: ts.UnixNano(), LinkType: flowkey.LinkEthernet}
				tr.Track(&p, nil)
				if tr.Buffered() > budget {
					t.Fatalf("holding %d out-of-order bytes, budget %d", tr.Buffered(), budget)
				}
			}
			ts = ts.Add(time.Millisecond)
		}
		var ms runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&ms)
		tr.Flush(EndOfInput, nil)
		return ms.HeapAlloc, gapCount, tr
	}
	baseHeap, baseGaps, _ := run(false)
	heap, gaps, tr := run(true)
	if baseGaps != 0 {
		t.Fatalf("%d gaps without holes", baseGaps)
	}
	if gaps != flows {
		t.Errorf("%d gaps reported for %d connections with a hole", gaps, flows)
	}
	if st := tr.Stats(); st.BoundGaps == 0 {
		t.Error("no gap was declared for the budget")
	}
	grew := int64(heap) - int64(baseHeap)
	t.Logf("heap with holes: %d MiB more than without (budget %d MiB; unbounded would be %d MiB)",
		grew>>20, budget>>20, flows*segs*segSize>>20)
	if grew > 2*budget {
		t.Errorf("heap grew by %d MiB with a %d MiB budget", grew>>20, budget>>20)
	}
}

// TestReassemblyInconsistentRetransmission: a retransmission whose bytes
// differ from those delivered is counted when delivered bytes are kept.
func TestReassemblyInconsistentRetransmission(t *testing.T) {
	data := []byte("0123456789abcdefghij")
	segs := []span{{0, 10}, {10, 10}, {5, 10}} // the last re-sends 5..15
	for _, c := range []struct {
		keep    int
		corrupt bool
		want    uint64
	}{{0, true, 0}, {64, false, 0}, {64, true, 1}, {8, true, 1}} {
		pkts := conversation(data, segs, 42)
		if c.corrupt {
			bad := append([]byte(nil), data[5:15]...)
			bad[7] = 'X' // offset 12, inside both the ring of 8 and of 64
			pkts[5] = pcapgen.Packet{TS: pkts[5].TS, Data: pcapgen.TCP(cli, srv, 42+1+5, 9001, pcapgen.PSH|pcapgen.ACK, bad)}
		}
		col := reassembleAll(t, pkts, testConfig{CompareRetransmissions: c.keep})
		st := col.record.Streams[Orig]
		if st.Inconsistent != c.want || string(col.data[Orig]) != string(data) {
			t.Errorf("keep %d corrupt %v: inconsistent %d (want %d), stream %q", c.keep, c.corrupt, st.Inconsistent, c.want, col.data[0])
		}
		if st.Duplicates != 1 {
			t.Errorf("keep %d: duplicates %d, want 1", c.keep, st.Duplicates)
		}
	}
}

// TestReassemblyLostSYN: a connection whose SYN was not captured is
// reassembled from its first byte.
func TestReassemblyLostSYN(t *testing.T) {
	data := []byte("hello, world")
	pkts := conversation(data, []span{{0, 5}, {5, 7}}, 77)
	pkts = pkts[1:] // the SYN is lost; SYN-ACK, ACK and data remain
	col := reassembleAll(t, pkts, testConfig{})
	if string(col.data[Orig]) != string(data) || len(col.gaps[0]) != 0 {
		t.Errorf("stream %q gaps %v, want %q and none", col.data[0], col.gaps[0], data)
	}
}

// TestDiscardCountsAlike: a connection reassembled for Discard, which
// keeps no out-of-order bytes, ends with the record a reading handler's
// connection has: the same gaps, missed bytes, history and stream
// counters, with bounds reached at the same points (a small
// MaxBufferPerSide forces gaps). Overlapping bytes are not compared.
func TestDiscardCountsAlike(t *testing.T) {
	for seed := range uint64(100) {
		rng := rand.New(rand.NewPCG(seed, 9))
		data := make([]byte, 1+rng.IntN(60000))
		for i := range data {
			data[i] = byte(rng.Uint32())
		}
		segs := segmentRandomly(rng, len(data), 1+rng.IntN(1460))
		for range rng.IntN(len(segs)/4 + 1) { // drops
			k := rng.IntN(len(segs))
			segs = append(segs[:k:k], segs[k+1:]...)
		}
		for range rng.IntN(len(segs) + 1) { // duplicates, consistent overlaps
			off := rng.IntN(len(data))
			segs = append(segs, span{off, 1 + rng.IntN(min(3000, len(data)-off))})
		}
		rng.Shuffle(len(segs), func(a, b int) { segs[a], segs[b] = segs[b], segs[a] })
		pkts := conversation(data, segs, rng.Uint32())
		cfg := testConfig{MaxBufferPerSide: 4096 + rng.IntN(30000)}
		read := reassembleAll(t, pkts, cfg).record
		cfg.NewStream = func(*FlowRecord) streamHandler { return discard{} }
		recs := newTestTracker(flowkey.FiveTupleExtractor{}, &cfg).trackAll(pkts)
		if len(recs) != 1 {
			t.Fatalf("seed %d: %d records", seed, len(recs))
		}
		got := recs[0]
		for s := range got.Streams {
			got.Streams[s].Inconsistent, read.Streams[s].Inconsistent = 0, 0
		}
		if got.MissedBytes != read.MissedBytes || got.Streams != read.Streams || got.History != read.History {
			t.Fatalf("seed %d: Discard: missed %d %+v %q; a reader: missed %d %+v %q", seed,
				got.MissedBytes, got.Streams, got.History.String(), read.MissedBytes, read.Streams, read.History.String())
		}
	}
}

// doneAfter is a collector that says it is done once it has taken
// limit chunks.
type doneAfter struct {
	collector
	limit, chunks int
}

func (d *doneAfter) Chunk(ch *chunk) {
	d.chunks++
	d.collector.Chunk(ch)
}

func (d *doneAfter) Done() bool { return d.chunks >= d.limit }

// TestDoneHandlerGetsNoMoreChunks: a handler that reports Done gets no
// chunk after, only End; the connection's record, its stream statistics
// included, is the one a handler reading everything gets.
func TestDoneHandlerGetsNoMoreChunks(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	data := make([]byte, 30000)
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	segs := segmentRandomly(rng, len(data), 1400)
	// Reordered, duplicated and with a segment missing, so that bytes are
	// buffered, duplicates counted and a gap declared after the handler
	// is done.
	segs[3], segs[4] = segs[4], segs[3]
	segs = append(segs[:10], segs[11:]...)
	segs = append(segs, segs[15])
	pkts := conversation(data, segs, 1000)

	all := reassembleAll(t, pkts, testConfig{})
	for _, limit := range []int{1, 2, 5} {
		d := &doneAfter{collector: collector{t: t}, limit: limit}
		cfg := testConfig{NewStream: func(*FlowRecord) streamHandler { return d }}
		tr := newTestTracker(flowkey.FiveTupleExtractor{}, &cfg)
		var evs []FlowRecord
		for _, p := range pkts {
			pk := Packet{Data: p.Data, Time: p.TS.UnixNano(), Length: len(p.Data), LinkType: flowkey.LinkEthernet}
			evs = tr.Track(&pk, evs)
		}
		tr.Flush(EndOfInput, evs)
		if d.chunks != limit || d.ended != 1 {
			t.Errorf("done after %d chunks: got %d chunks and %d ends, want %d and 1", limit, d.chunks, d.ended, limit)
		}
		if !reflect.DeepEqual(d.record.Streams, all.record.Streams) || d.record.History != all.record.History {
			t.Errorf("done after %d chunks: streams %+v, history %v; reading everything: %+v, %v",
				limit, d.record.Streams, d.record.History, all.record.Streams, all.record.History)
		}
	}
	if len(all.gaps[Orig]) == 0 || all.record.Streams[Orig].Duplicates == 0 {
		t.Fatalf("the conversation has no gap or no duplicate: %+v", all.record.Streams)
	}
}

// TestDoneThroughWrappers: a tee is done when every handler in it is, an
// orderer when its handler is (dropping the chunks it holds), a session
// parser's handler when its parser is.
func TestDoneThroughWrappers(t *testing.T) {
	a, b := &doneAfter{collector: collector{t: t}, limit: 1}, &doneAfter{collector: collector{t: t}, limit: 2}
	tee := newTeeStreams([]streamHandler{a, b}).(Doner)
	tee.(streamHandler).Chunk(&chunk{Side: Orig, Bytes: []byte("x")})
	if tee.Done() {
		t.Error("a tee is done while one of its handlers is not")
	}
	b.limit = 1
	if !tee.Done() {
		t.Error("a tee is not done though all its handlers are")
	}
	if newTeeStreams([]streamHandler{a, streamFuncs{}, b}).(Doner).Done() {
		t.Error("a tee is done though one of its handlers cannot say")
	}
	var many []streamHandler
	for range 6 {
		many = append(many, &doneAfter{collector: collector{t: t}, limit: 1})
	}
	big := newTeeStreams(many)
	big.Chunk(&chunk{Side: Orig, Bytes: []byte("x")})
	many[5].(*doneAfter).limit = 2
	if big.(Doner).Done() {
		t.Error("a tee of six is done while its last handler is not")
	}
	many[5].(*doneAfter).limit = 1
	if !big.(Doner).Done() {
		t.Error("a tee of six is not done though all its handlers are")
	}
	for i, h := range many {
		if h.(*doneAfter).chunks != 1 {
			t.Errorf("handler %d of six got %d chunks, want 1", i, h.(*doneAfter).chunks)
		}
	}

	c := &doneAfter{collector: collector{t: t}, limit: 1}
	o := newOrderer(c, nil)
	// A response acknowledging request bytes not yet seen waits.
	o.Chunk(&chunk{Side: Resp, Bytes: []byte("late"), Ack: 5})
	if o.Done() {
		t.Error("an Orderer is done before its handler")
	}
	o.Chunk(&chunk{Side: Orig, Bytes: []byte("ab")})
	if !o.Done() {
		t.Error("an Orderer is not done after its handler")
	}
	o.End(&FlowRecord{})
	if c.chunks != 1 {
		t.Errorf("the done handler got %d chunks, want 1: the waiting one was not dropped", c.chunks)
	}

	var mem int
	h := Session(SessionFactoryFunc[*countRecord](func(*Conn) SessionParser[*countRecord] { return doneAfterFirst{new(bool)} })).session(nil, &runEnv{mem: &mem})
	if h.(Doner).Done() {
		t.Error("a session handler is done before its parser gave up")
	}
	h.Chunk(&chunk{Side: Orig, Bytes: []byte("not mine")})
	if !h.(Doner).Done() {
		t.Error("a session handler is not done after its parser gave up")
	}
}

// doneAfterFirst is a session parser that gives up after its first
// bytes.
type doneAfterFirst struct{ fed *bool }

func (p doneAfterFirst) Data(_ Side, _ []byte, _ int64, out []*countRecord) []*countRecord {
	*p.fed = true
	return out
}
func (p doneAfterFirst) Gap(_ Side, _ uint64, _ int64, out []*countRecord) []*countRecord {
	return out
}
func (p doneAfterFirst) End(_ *FlowRecord, out []*countRecord) []*countRecord { return out }
func (p doneAfterFirst) Done() bool                                           { return *p.fed }

// countRecord is a record of one count, for tests of parsers.
type countRecord struct{ n uint64 }

var countSchema = NewSchema("count", Field{"n", TypeCount})

func (r *countRecord) Schema() *Schema                 { return countSchema }
func (r *countRecord) AppendValues(vs []Value) []Value { return append(vs, CountValue(r.n)) }

// TestDriverInOrderZeroAllocs: through a Driver, an in-order segment
// reaches a session parser (through the orderer, causal order kept)
// without allocating, as does a packet of a known flow.
func TestDriverInOrderZeroAllocs(t *testing.T) {
	pkts := inOrderPackets()
	counted := map[*Conn]uint64{}
	d := NewDriver(flowkey.FiveTupleExtractor{}, &Config{Parsers: []Parser{
		Session(SessionFactoryFunc[*countRecord](func(c *Conn) SessionParser[*countRecord] {
			return countParser{c, func(c *Conn, n int) { counted[c] += uint64(n) }, nil}
		})),
	}})
	recs := make([]Record, 0, 4)
	for _, p := range pkts[:10] {
		recs = d.Track(&p, recs[:0])
	}
	i := 10
	allocs := testing.AllocsPerRun(500, func() {
		recs = d.Track(&pkts[i], recs[:0])
		i++
	})
	if allocs != 0 {
		t.Errorf("an in-order segment through a Driver costs %v allocations, want 0", allocs)
	}
	var n uint64
	for _, v := range counted {
		n += v
	}
	if n == 0 {
		t.Error("no bytes reached the parser")
	}
}

// inOrderPackets is a connection carrying 200,000 bytes in order, in
// segments of 1 to 200 bytes.
func inOrderPackets() []Packet {
	data := make([]byte, 1000*200)
	segs := segmentRandomly(rand.New(rand.NewPCG(2, 2)), len(data), 200)
	gen := conversation(data, segs, 1)
	pkts := make([]Packet, len(gen))
	for i, p := range gen {
		pkts[i] = Packet{Data: p.Data, Time: p.TS.UnixNano(), LinkType: flowkey.LinkEthernet}
	}
	return pkts
}
