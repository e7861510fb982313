package flowscope

import "github.com/flowscope-go/flowscope/flowkey"

// Driver turns packets into records, one packet at a time, with no
// goroutines: it tracks bidirectional flows keyed by K, reassembles each
// TCP connection's two byte streams, puts them in causal order, and runs
// the configured parsers on them (session parsers on TCP connections,
// datagram parsers on UDP flows). Each call appends to its out slice the
// records it completed, in the order they were completed: a parser's
// records as it makes them, and a flow's conn record (*FlowRecord) when
// the flow ends, after the last records of its parsers. The same input
// gives the same records in the same order.
//
// Streams are reassembled even when no parser reads them, as Zeek does,
// so that conn records count the bytes missing from them. Parsers and
// reassembly are meant for 5-tuple keys (flowkey.FiveTupleExtractor):
// with other keys a flow may hold several connections.
//
// The zero Driver is not usable; see NewDriver. A Driver is not safe for
// concurrent use: give each goroutine (each shard) its own.
type Driver[K Key] struct {
	t         *tracker[K]
	sessions  []Parser
	datagrams []Parser
	env       runEnv // the output being appended to during a call
}

// runEnv is what a Driver's parser runs share: the slice of records
// being appended to during a call, and the memory count the parsers'
// held bytes go into (see Holder).
type runEnv struct {
	out []Record
	mem *int
}

// NewDriver returns a Driver that keys flows with ext. A nil cfg means
// all defaults and no parsers.
func NewDriver[K Key](ext Extractor[K], cfg *Config) *Driver[K] {
	var c Config
	if cfg != nil {
		c = *cfg
	}
	d := &Driver[K]{t: newTracker(ext, &c)}
	d.env.mem = &d.t.memUsed
	for _, p := range c.Parsers {
		if p.session != nil {
			d.sessions = append(d.sessions, p)
		}
		if p.datagram != nil {
			d.datagrams = append(d.datagrams, p)
		}
	}
	d.t.newStream = d.newStream
	if len(d.datagrams) > 0 {
		d.t.newDatagram = d.newDatagram
	}
	d.t.ended = d.ended
	return d
}

// Track accounts one packet and appends the records it completed to out.
// It allocates nothing for a packet of a known flow that completes no
// record. The packet's bytes are not kept.
func (d *Driver[K]) Track(p *Packet, out []Record) []Record {
	d.env.out = out
	d.t.track(p)
	return d.take()
}

// TrackDecoded is Track for a packet already decoded: dec and err are
// what flowkey.Decoder.Decode returned for p's link type and data, which
// dec still points into. A stage that reads packets can decode them on
// its own core, while they are in its cache, and leave the Driver only
// this. The Driver reads dec and does not keep it.
func (d *Driver[K]) TrackDecoded(p *Packet, dec *flowkey.Decoded, err error, out []Record) []Record {
	d.env.out = out
	d.t.trackDecoded(p, dec, err)
	return d.take()
}

// Expiring reports whether flows that have timed out are still open,
// left for the next call: one call ends at most 4,096 of them, so that a
// jump of the clock does not make every open flow's record at once.
// Call Advance again (with the same time) to end them.
func (d *Driver[K]) Expiring() bool { return d.t.expireLeft }

// Advance moves the clock with now (Unix ns), as a packet at that time
// would (see Stats.TimeSteps for how time that goes back is taken), and
// appends the records of flows that have timed out by then. A stream runtime
// calls it with the input's watermark so that timers fire even on a shard
// that receives no packets; live capture calls it with wall time.
func (d *Driver[K]) Advance(now int64, out []Record) []Record {
	d.env.out = out
	d.t.advance(now)
	return d.take()
}

// Flush ends every open flow and appends the records that completes,
// oldest flow first. Flows that had already timed out by the clock end
// with their timeout reason, finished TCP connections with EndFIN or
// EndRST, the rest with reason (EndOfInput or EndShutdown).
func (d *Driver[K]) Flush(reason EndReason, out []Record) []Record {
	d.env.out = out
	d.t.flush(reason, -1)
	return d.take()
}

// FlushSome is Flush for at most n flows (n > 0), oldest first; more
// reports whether flows are still open. Ending a large table a part at a
// time keeps the records it makes from piling up: a million flows ended
// at once hold a million records until they are written.
func (d *Driver[K]) FlushSome(reason EndReason, n int, out []Record) (_ []Record, more bool) {
	d.env.out = out
	more = d.t.flush(reason, max(n, 1))
	return d.take(), more
}

func (d *Driver[K]) take() []Record {
	out := d.env.out
	d.env.out = nil
	return out
}

// Shed is what a Driver gives up to keep up with its input, least
// first: the policy a live capture under overload follows (see
// stage.TrackConfig.Shed), after Suricata's emergency mode. Flows already
// tracked keep everything at every level, so that no connection is
// reported in part; what is shed is what has not begun.
type Shed uint8

const (
	// ShedNone: everything is tracked and parsed.
	ShedNone Shed = iota
	// ShedParsers: new flows are tracked without parsers (no protocol
	// records, no transcripts; their conn records come as ever).
	ShedParsers
	// ShedFlows: packets that would start a new flow are counted and
	// not tracked.
	ShedFlows
)

// SetShed sets what the Driver sheds from now on, counted in
// Stats.ShedParsers and Stats.ShedPackets.
func (d *Driver[K]) SetShed(s Shed) { d.t.shedding = s }

// Stats returns the Driver's counters.
func (d *Driver[K]) Stats() Stats { return d.t.Stats() }

// Len returns the number of open flows.
func (d *Driver[K]) Len() int { return d.t.table.count }

// Buffered returns the out-of-order bytes held for TCP reassembly now,
// across all connections; it never exceeds Config.ReassemblyBudget.
func (d *Driver[K]) Buffered() int { return d.t.reasm.used }

// Now returns the capture time the Driver's clock last moved with: the
// latest packet time seen or advanced to, in Unix nanoseconds, or the
// time the capture's clock was set back to.
func (d *Driver[K]) Now() int64 { return d.t.lastTS }

// newStream gives a new TCP connection its session parsers, fed in
// causal order; a connection no parser wants is reassembled for its
// statistics alone.
func (d *Driver[K]) newStream(rec *FlowRecord) streamHandler {
	if len(d.sessions) == 0 {
		return discard{}
	}
	c := ConnOf(rec)
	var buf [4]streamHandler
	hs := buf[:0]
	for _, p := range d.sessions {
		if h := p.session(c, &d.env); h != nil {
			hs = append(hs, h)
		}
	}
	if len(hs) == 0 {
		return discard{}
	}
	return newOrderer(newTeeStreams(hs), &d.t.reasm)
}

// newDatagram gives a new UDP flow its datagram parsers.
func (d *Driver[K]) newDatagram(rec *FlowRecord) datagramHandler {
	c := ConnOf(rec)
	var hs teeDatagrams
	for _, p := range d.datagrams {
		if h := p.datagram(c, &d.env); h != nil {
			hs = append(hs, h)
		}
	}
	switch len(hs) {
	case 0:
		return nil
	case 1:
		return hs[0]
	}
	return hs
}

// ended appends a flow's final record.
func (d *Driver[K]) ended(r *FlowRecord) {
	rec := new(FlowRecord)
	*rec = *r
	d.env.out = append(d.env.out, rec)
}
