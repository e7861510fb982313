package flowscope

import (
	"net/netip"
	"time"

	"github.com/flowscope-go/flowscope/flowkey"
	"github.com/flowscope-go/flowscope/internal/pcapgen"
)

// testConfig is a tracker's configuration with its handlers, for the
// tests of the tracker and the reassembler beneath the Driver: NewStream
// gets each TCP connection's raw chunks, in capture order per side.
type testConfig struct {
	TCPEstablishedTimeout, TCPAttemptTimeout, TCPCloseLinger time.Duration
	UDPTimeout, OtherTimeout                                 time.Duration
	MaxFlows                                                 int
	MaxBufferPerSide, ReassemblyBudget                       int
	Overlap                                                  OverlapPolicy
	CompareRetransmissions                                   int
	Fragments                                                flowkey.Defragmenter
	ReorderPackets                                           int
	ReorderWindow                                            time.Duration

	NewStream   func(rec *FlowRecord) streamHandler
	NewDatagram func(rec *FlowRecord) datagramHandler
}

// testTracker is a tracker that collects the records of the flows it
// ends, for Track and Flush to return.
type testTracker[K Key] struct {
	*tracker[K]
	ends []FlowRecord
}

func newTestTracker[K Key](ext Extractor[K], tc *testConfig) *testTracker[K] {
	var c testConfig
	if tc != nil {
		c = *tc
	}
	t := &testTracker[K]{tracker: newTracker(ext, &Config{
		TCPEstablishedTimeout: c.TCPEstablishedTimeout, TCPAttemptTimeout: c.TCPAttemptTimeout, TCPCloseLinger: c.TCPCloseLinger,
		UDPTimeout: c.UDPTimeout, OtherTimeout: c.OtherTimeout, MaxFlows: c.MaxFlows,
		MaxBufferPerSide: c.MaxBufferPerSide, ReassemblyBudget: c.ReassemblyBudget, Overlap: c.Overlap,
		CompareRetransmissions: c.CompareRetransmissions, Fragments: c.Fragments,
		ReorderPackets: c.ReorderPackets, ReorderWindow: c.ReorderWindow,
	})}
	t.newStream, t.newDatagram = c.NewStream, c.NewDatagram
	t.ended = func(r *FlowRecord) { t.ends = append(t.ends, *r) }
	return t
}

// Track tracks p and appends the records of the flows it ended to out.
func (t *testTracker[K]) Track(p *Packet, out []FlowRecord) []FlowRecord {
	t.track(p)
	return t.take(out)
}

// Flush ends every flow and appends their records to out.
func (t *testTracker[K]) Flush(reason EndReason, out []FlowRecord) []FlowRecord {
	t.flush(reason, -1)
	return t.take(out)
}

func (t *testTracker[K]) take(out []FlowRecord) []FlowRecord {
	out = append(out, t.ends...)
	t.ends = t.ends[:0]
	return out
}

// trackAll tracks pkts (Ethernet frames) and flushes, returning every
// ended flow in order.
func (t *testTracker[K]) trackAll(pkts []pcapgen.Packet) []FlowRecord {
	var recs []FlowRecord
	for _, p := range pkts {
		pk := Packet{Data: p.Data, Time: p.TS.UnixNano(), Length: len(p.Data), LinkType: flowkey.LinkEthernet}
		recs = t.Track(&pk, recs)
	}
	return t.Flush(EndOfInput, recs)
}

func (t *testTracker[K]) Len() int      { return t.table.count }
func (t *testTracker[K]) Buffered() int { return t.reasm.used }

// streamFuncs adapts two functions to streamHandler; either may be nil.
type streamFuncs struct {
	OnChunk func(c *chunk)
	OnEnd   func(rec *FlowRecord)
}

func (f streamFuncs) Chunk(c *chunk) {
	if f.OnChunk != nil {
		f.OnChunk(c)
	}
}

func (f streamFuncs) End(rec *FlowRecord) {
	if f.OnEnd != nil {
		f.OnEnd(rec)
	}
}

var (
	cli = netip.MustParseAddrPort("10.0.0.1:40000")
	srv = netip.MustParseAddrPort("10.0.0.2:80")
	t0  = time.Unix(1_700_000_000, 0)
)
