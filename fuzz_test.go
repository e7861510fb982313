package flowscope

import (
	"encoding/binary"
	"iter"
	"reflect"
	"testing"
	"time"

	"github.com/flowscope-go/flowscope/flowkey"
	"github.com/flowscope-go/flowscope/internal/pcapgen"
)

// FuzzTracker feeds arbitrary frames (each prefixed by a one-byte time
// step and a two-byte length) to trackers with small bounds, one keyed by
// 5-tuple and one by IP pair (whose flows can carry TCP and UDP at
// once), and checks that every packet is accounted for exactly once: in
// a flow record or in a skip counter; that every stream and datagram
// handler ends exactly once; and that stream handlers that say they are
// done after a chunk or two change no record.
func FuzzTracker(f *testing.F) {
	seed := func(pkts []pcapgen.Packet) []byte {
		var b []byte
		for i, p := range pkts {
			b = append(b, byte(i%7))
			b = binary.BigEndian.AppendUint16(b, uint16(len(p.Data)))
			b = append(b, p.Data...)
		}
		return b
	}
	f.Add(seed(pcapgen.TCPConn(pcapgen.Conn{Client: cli, Server: srv, Start: t0, Exchanges: 2, ReqSize: 5, RespSize: 9})))
	f.Add(seed(pcapgen.UDPExchange(cli, srv, t0, 2, 3, 4)))
	f.Add(seed(pcapgen.TCPConn(pcapgen.Conn{Client: cli, Server: srv, Start: t0, Exchanges: 1, ReqSize: 5, RespSize: 9, Reset: true})))
	// UDP then TCP between the same hosts: one flow for an IP-pair key.
	f.Add(seed(append(pcapgen.UDPExchange(cli, srv, t0, 1, 3, 4),
		pcapgen.TCPConn(pcapgen.Conn{Client: cli, Server: srv, Start: t0.Add(time.Second), Exchanges: 1, ReqSize: 5, RespSize: 9})...)))
	f.Fuzz(func(t *testing.T, in []byte) { checkAll(t, fuzzPackets(in), 1+len(in)%2) })
}

// FuzzTrackerClock is FuzzTracker with a hostile clock: each frame is
// prefixed by a one-byte step and a two-byte length, and a step byte of
// 0x80 or more is followed by the frame's time, any int64 of Unix ns:
// before 1970, past 2262, back and forth by centuries.
func FuzzTrackerClock(f *testing.F) {
	seed := func(pkts []pcapgen.Packet, times ...int64) []byte {
		var b []byte
		for i, p := range pkts {
			if i < len(times) {
				b = append(b, 0x80)
				b = binary.BigEndian.AppendUint64(b, uint64(times[i]))
			} else {
				b = append(b, byte(i%7))
			}
			b = binary.BigEndian.AppendUint16(b, uint16(len(p.Data)))
			b = append(b, p.Data...)
		}
		return b
	}
	conn := pcapgen.TCPConn(pcapgen.Conn{Client: cli, Server: srv, Start: t0, Exchanges: 2, ReqSize: 5, RespSize: 9})
	f.Add(seed(conn, -1<<62))
	f.Add(seed(conn, 1<<63-1, -1<<63, 1<<63-1))
	f.Add(seed(pcapgen.UDPExchange(cli, srv, t0, 3, 3, 4), (1<<32-1)*1e9, 0, (1<<32-1)*1e9, 5e9))
	f.Fuzz(func(t *testing.T, in []byte) { checkAll(t, clockPackets(in), 1+len(in)%2) })
}

// checkAll runs the checks of FuzzTracker on one input; limit is the
// chunks after which the done handlers say so.
func checkAll(t *testing.T, in iter.Seq[*Packet], limit int) {
	{
		all := checkTracker(t, in, flowkey.FiveTupleExtractor{}, 0)
		// Stream handlers done after a chunk or two: the records must not
		// change (reassembly's statistics are kept for a done handler).
		if done := checkTracker(t, in, flowkey.FiveTupleExtractor{}, limit); !reflect.DeepEqual(done, all) {
			t.Fatalf("records with done handlers differ:\n%+v\nwant\n%+v", done, all)
		}
		checkTracker(t, in, flowkey.IPPairExtractor{}, 0)
		// A Driver with parsers on every flow (in causal order, through
		// the orderer) ends the same flows with the same records, after
		// the records of their parsers.
		if got := checkDriver(t, in); !reflect.DeepEqual(got, all) {
			t.Fatalf("the Driver's records differ:\n%+v\nwant\n%+v", got, all)
		}
	}
}

// checkDriver runs a Driver over in, with the bounds of checkTracker and
// parsers that count every byte they are fed and make a record of the
// count when their flow ends, and returns its conn records.
func checkDriver(t *testing.T, in iter.Seq[*Packet]) []FlowRecord {
	counted := map[*Conn]uint64{}
	count := func(c *Conn, n int) { counted[c] += uint64(n) }
	end := func(c *Conn, out []*countRecord) []*countRecord {
		n, ok := counted[c]
		if !ok {
			t.Fatalf("a parser ended twice, or was never made")
		}
		delete(counted, c)
		return append(out, &countRecord{n: n})
	}
	d := NewDriver(flowkey.FiveTupleExtractor{}, &Config{
		MaxFlows: 4, UDPTimeout: 3 * time.Second, TCPAttemptTimeout: 2 * time.Second, TCPCloseLinger: time.Second,
		MaxBufferPerSide: 3000, ReassemblyBudget: 5000,
		Parsers: []Parser{
			Session(SessionFactoryFunc[*countRecord](func(c *Conn) SessionParser[*countRecord] {
				counted[c] = 0
				return countParser{c, count, end}
			})),
			Datagram(DatagramFactoryFunc[*countRecord](func(c *Conn) DatagramParser[*countRecord] {
				counted[c] = 0
				return countParser{c, count, end}
			})),
		},
	})
	var recs []Record
	for p := range in {
		recs = d.Track(p, recs)
	}
	recs = d.Flush(EndOfInput, recs)
	if len(counted) != 0 {
		t.Fatalf("%d parsers never ended", len(counted))
	}
	var flows []FlowRecord
	counts := 0
	for _, r := range recs {
		switch r := r.(type) {
		case *FlowRecord:
			flows = append(flows, *r)
		case *countRecord:
			counts++
		}
	}
	// Every UDP flow gets its parsers, a TCP flow those with payload.
	want := 0
	for _, f := range flows {
		if f.Proto == flowkey.ProtoUDP || (f.Proto == flowkey.ProtoTCP && f.Stats[0].PayloadBytes+f.Stats[1].PayloadBytes > 0) {
			want++
		}
	}
	if counts < want {
		t.Fatalf("%d parser records for %d flows that must have them", counts, want)
	}
	return flows
}

// countParser counts the bytes of a flow, for checkDriver.
type countParser struct {
	c     *Conn
	count func(*Conn, int)
	end   func(*Conn, []*countRecord) []*countRecord
}

func (p countParser) Data(_ Side, b []byte, _ int64, out []*countRecord) []*countRecord {
	p.count(p.c, len(b))
	return out
}
func (p countParser) Datagram(_ Side, b []byte, _ int64, out []*countRecord) []*countRecord {
	p.count(p.c, len(b))
	return out
}
func (p countParser) Gap(_ Side, _ uint64, _ int64, out []*countRecord) []*countRecord { return out }
func (p countParser) End(_ *FlowRecord, out []*countRecord) []*countRecord             { return p.end(p.c, out) }

// datagramCounter counts a UDP flow's ends.
type datagramCounter struct{ ended int }

func (*datagramCounter) Datagram(Side, []byte, int64) {}
func (d *datagramCounter) End(*FlowRecord)            { d.ended++ }

// checkTracker runs one tracker over in and returns its events. With
// limit > 0 its stream handlers say they are done after that many chunks.
func checkTracker[K Key](t *testing.T, in iter.Seq[*Packet], ext Extractor[K], limit int) []FlowRecord {
	// Stream reassembly runs too, with small bounds; every connection's
	// chunks must be contiguous per side and end exactly once.
	var handlers []*doneAfter
	var datagrams []*datagramCounter
	tr := newTestTracker(ext, &testConfig{
		MaxFlows: 4, UDPTimeout: 3 * time.Second, TCPAttemptTimeout: 2 * time.Second, TCPCloseLinger: time.Second,
		MaxBufferPerSide: 3000, ReassemblyBudget: 5000,
		NewStream: func(*FlowRecord) streamHandler {
			c := &doneAfter{collector: collector{t: t}, limit: limit}
			if limit == 0 {
				c.limit = 1 << 62 // never done
			}
			handlers = append(handlers, c)
			return c
		},
		NewDatagram: func(*FlowRecord) datagramHandler {
			d := &datagramCounter{}
			datagrams = append(datagrams, d)
			return d
		},
	})
	var evs []FlowRecord
	for p := range in {
		evs = tr.Track(p, evs)
		if tr.Len() > 4 {
			t.Fatalf("%d flows open with MaxFlows 4", tr.Len())
		}
	}
	evs = tr.Flush(EndOfInput, evs)
	var inFlows uint64
	for _, e := range evs {
		r := &e
		inFlows += r.Stats[0].Packets + r.Stats[1].Packets
		if r.Reason == NotEnded || r.Last < r.First {
			t.Fatalf("bad record: %+v", r)
		}
	}
	st := tr.Stats()
	if inFlows+st.Skipped() != st.Packets {
		t.Fatalf("%d packets in flows + %d skipped != %d tracked", inFlows, st.Skipped(), st.Packets)
	}
	if uint64(len(evs)) != st.Flows {
		t.Fatalf("%d records for %d flows", len(evs), st.Flows)
	}
	for _, d := range datagrams {
		if d.ended != 1 {
			t.Fatalf("datagram handler ended %d times", d.ended)
		}
	}
	for _, c := range handlers {
		if c.ended != 1 {
			t.Fatalf("stream ended %d times", c.ended)
		}
		if c.chunks > c.limit {
			t.Fatalf("a handler done after %d chunks got %d", c.limit, c.chunks)
		}
		if c.Done() {
			continue // it saw part of the streams only
		}
		for s := range 2 {
			st := c.record.Streams[s]
			if uint64(len(c.data[s])) != st.Bytes || c.next[s] != st.Bytes+st.GapBytes {
				t.Fatalf("side %d: %d bytes and %d offset delivered, record says %d + %d gap", s, len(c.data[s]), c.next[s], st.Bytes, st.GapBytes)
			}
		}
	}
	if tr.Buffered() != 0 {
		t.Fatalf("%d bytes still buffered after Flush", tr.Buffered())
	}
	return evs
}

// fuzzPackets yields the frames of a fuzz input, each prefixed by a
// one-byte time step (in tenths of a second) and a two-byte length.
func fuzzPackets(input []byte) iter.Seq[*Packet] {
	return func(yield func(*Packet) bool) {
		in, ts := input, t0
		for len(in) >= 3 {
			step, n := in[0], int(binary.BigEndian.Uint16(in[1:3]))
			in = in[3:]
			n = min(n, len(in))
			ts = ts.Add(time.Duration(step) * 100 * time.Millisecond)
			p := Packet{Data: in[:n], Time: ts.UnixNano(), LinkType: flowkey.LinkEthernet}
			if !yield(&p) {
				return
			}
			in = in[n:]
		}
	}
}

// clockPackets yields the frames of a FuzzTrackerClock input.
func clockPackets(input []byte) iter.Seq[*Packet] {
	return func(yield func(*Packet) bool) {
		in, ts := input, t0.UnixNano()
		for len(in) >= 3 {
			step := in[0]
			in = in[1:]
			if step >= 0x80 {
				if len(in) < 8 {
					return
				}
				ts = int64(binary.BigEndian.Uint64(in))
				in = in[8:]
			} else {
				ts += int64(step) * int64(100*time.Millisecond)
			}
			if len(in) < 2 {
				return
			}
			n := min(int(binary.BigEndian.Uint16(in)), len(in)-2)
			p := Packet{Data: in[2 : 2+n], Time: ts, LinkType: flowkey.LinkEthernet}
			if !yield(&p) {
				return
			}
			in = in[2+n:]
		}
	}
}
