package flowscope

import (
	"time"

	"github.com/flowscope-go/flowscope/flowkey"
)

// Config sets the tracker's timeouts and bounds. The zero Config means
// all defaults; a nil *Config passed to NewTracker does too.
type Config struct {
	// TCPEstablishedTimeout is how long a quiet TCP flow that carried a
	// handshake or data is kept. Zero means 5 minutes.
	TCPEstablishedTimeout time.Duration
	// TCPAttemptTimeout is how long a quiet TCP flow that never got past
	// its handshake is kept. Zero means 30 seconds.
	TCPAttemptTimeout time.Duration
	// TCPCloseLinger is how long a TCP flow is kept after both sides sent
	// FIN or one sent RST, so that the last ACKs and retransmissions stay
	// in the flow. Zero means 5 seconds.
	TCPCloseLinger time.Duration
	// UDPTimeout is how long a quiet UDP flow is kept. Zero means 1 minute.
	UDPTimeout time.Duration
	// OtherTimeout is how long a quiet flow of any other protocol is kept.
	// Zero means 1 minute.
	OtherTimeout time.Duration
	// MaxFlows bounds the flow table. When it is full, the least recently
	// seen flow (to within a second of packet time) is ended with reason
	// EndEvicted. Zero means 1,000,000; at most 2^26-1 (67M) flows are
	// kept per tracker, a larger value counts as that.
	MaxFlows int
	// StartEvents makes Track emit a FlowStarted event for each new flow.
	StartEvents bool

	// NewStream, when set, turns on TCP stream reassembly: it is called for
	// each new TCP flow and the handler it returns receives both sides'
	// bytes in order, with gaps. Meant for 5-tuple keys.
	NewStream NewStreamFunc
	// NewDatagram, when set, is called for each new UDP flow; the handler
	// it returns receives the flow's payloads. Meant for 5-tuple keys.
	NewDatagram NewDatagramFunc
	// MaxBufferPerSide bounds the out-of-order bytes held for one side of
	// one connection. Reaching it gives up the oldest hole (a gap). Zero
	// means 1 MiB.
	MaxBufferPerSide int
	// ReassemblyBudget bounds the out-of-order bytes held by one tracker
	// across all connections, in bytes. Reaching it gives up holes as
	// MaxBufferPerSide does. Zero means 256 MiB.
	ReassemblyBudget int
	// Overlap decides which bytes win when buffered segments overlap.
	// The zero value is FirstWins.
	Overlap OverlapPolicy
	// CompareRetransmissions is how many recently delivered bytes per side
	// are kept, copied, to compare retransmissions with: those that
	// differ are counted as Inconsistent. Zero means none are kept, and
	// delivery copies nothing; retransmissions of delivered bytes are
	// then counted but not compared.
	CompareRetransmissions int
	// Fragments bounds IP fragment reassembly, which happens before flow
	// tracking: datagrams in flight (default 1,024; beyond it the oldest
	// is dropped), bytes per datagram (default 65,535) and how long, in
	// packet time, a datagram may wait for its missing fragments (default
	// 30 s). Overlapping fragments keep the bytes that came first. Its
	// counters are in Stats and DefragStats; any state set in it is
	// ignored.
	Fragments flowkey.Defragmenter
}

// Defaults of Config.
const (
	DefaultTCPEstablishedTimeout = 5 * time.Minute
	DefaultTCPAttemptTimeout     = 30 * time.Second
	DefaultTCPCloseLinger        = 5 * time.Second
	DefaultUDPTimeout            = time.Minute
	DefaultOtherTimeout          = time.Minute
	DefaultMaxFlows              = 1_000_000
)

// Stats counts what a tracker saw. Counters only grow.
type Stats struct {
	// Packets is every packet given to Track.
	Packets uint64
	// Flows is the number of flows started.
	Flows uint64
	// Packets that belong to no flow, by reason.
	UnsupportedLink uint64 // link type the decoder does not know
	NotIP           uint64 // ARP, LLDP and other non-IP frames
	Truncated       uint64 // a header cut short by the snap length
	Malformed       uint64 // an impossible header field
	Fragments       uint64 // IP fragments held for reassembly (see Reassembled)
	NoKey           uint64 // decoded, but the extractor gave no key
	// Evicted counts flows ended because the table was full.
	Evicted uint64
	// BoundGaps counts gaps declared because a reassembly bound was
	// reached (MaxBufferPerSide or ReassemblyBudget).
	BoundGaps uint64
	// Reassembled counts IP datagrams rebuilt from fragments (each
	// tracked as one packet); Fragments above counts the fragments held
	// until then, or dropped.
	Reassembled uint64
	// FragmentsDropped counts datagrams given up on incomplete: their
	// timeout passed, too many were in flight, they grew beyond the
	// bound, or the input ended. FragmentOverlaps counts fragments that
	// overlapped bytes already held (the first to arrive win).
	FragmentsDropped, FragmentOverlaps uint64
}

// Add adds the counters of o to s.
func (s *Stats) Add(o Stats) {
	s.Packets += o.Packets
	s.Flows += o.Flows
	s.UnsupportedLink += o.UnsupportedLink
	s.NotIP += o.NotIP
	s.Truncated += o.Truncated
	s.Malformed += o.Malformed
	s.Fragments += o.Fragments
	s.NoKey += o.NoKey
	s.Evicted += o.Evicted
	s.BoundGaps += o.BoundGaps
	s.Reassembled += o.Reassembled
	s.FragmentsDropped += o.FragmentsDropped
	s.FragmentOverlaps += o.FragmentOverlaps
}

// Skipped returns the number of packets that belong to no flow.
func (s *Stats) Skipped() uint64 {
	return s.UnsupportedLink + s.NotIP + s.Truncated + s.Malformed + s.Fragments + s.NoKey
}

// timeout classes: each has its own idle timeout and its own LRU list, so
// that the oldest flow of a class is always at the head of its list.
const (
	classTCPAttempt = iota
	classTCPEstablished
	classTCPClosed
	classUDP
	classOther
	numClasses
)

const none = -1

// entry is one flow. The fields touched by every packet come first, so
// that a packet touches as few cache lines of its flow as possible.
type entry[K Key] struct {
	key        K
	prev, next int32
	rec        flowCore
}

// flowCore is what the tracker keeps of a flow while the flow is open:
// the FlowRecord handed out is built from it (Tracker.record), with what
// only some flows have kept elsewhere: stream statistics with the
// reassembly state, the tunnel parent in a map, the link layer in the
// links table. Field names follow FlowRecord's. The fields are ordered so
// that an entry of a 5-tuple flow is 128 bytes, with no padding.
type flowCore struct {
	First, Last        int64
	Stats              [2]sideCounters
	OrigPort, RespPort uint16
	// link indexes the tracker's links table: MAC addresses, VLAN, IP
	// version.
	link    uint32
	History History
	// seen has one bit per once-only history letter a side showed (see
	// letterBit), the originator's in bits 0-6 and the responder's in
	// bits 8-14; bit 15 (seenOrigIsFwd) says that the originator sends in
	// the key's forward direction.
	seen  uint16
	class uint8
	Proto uint8
	// sid is 1 + the index of the flow's reassembly state in the
	// tracker's strm; 0 unless Config.NewStream asked for this
	// connection's bytes. An index, not a pointer, keeps entries free of
	// pointers, so the garbage collector need not scan the flow table.
	sid int32
	// linkedAt is the time, in Unix seconds rounded up, the flow was last
	// placed at the tail of its class list; lists are ordered by it (see
	// Relinking).
	linkedAt uint32
	// tcp is the index of the flow's TCP state in the tracker's tcp
	// store, for TCP flows only (UDP and other flows do without).
	tcp int32
}

const seenOrigIsFwd = 1 << 15

// origIsFwd reports whether the originator sends in the key's forward
// direction.
func (c *flowCore) origIsFwd() bool { return c.seen&seenOrigIsFwd != 0 }

func (c *flowCore) setOrigIsFwd(fwd bool) {
	c.seen &^= seenOrigIsFwd
	if fwd {
		c.seen |= seenOrigIsFwd
	}
}

// seenBy returns the once-only letter bits side s showed.
func (c *flowCore) seenBy(s Side) uint16 { return c.seen >> (8 * s) & 0x7f }

// tcpState is the TCP state of both sides of a flow.
type tcpState [2]sideState

// addrKey is a key that holds both IP addresses of its flow, the lower
// first, as flowkey.FiveTuple and flowkey.IPPair do: the tracker then
// takes the addresses of a flow's record from its key instead of keeping
// a copy.
type addrKey interface {
	Addrs() (lo, hi flowkey.Addr)
}

// sideCounters are the counters of SideStats kept per packet; Bytes is
// worked out when the flow ends. They are 32 bits wide: few flows ever
// pass 4 GiB or 4G packets a side, and those that do keep the carries in
// the tracker's carries map, which saves every other flow 24 bytes.
type sideCounters struct {
	Packets, IPBytes, PayloadBytes uint32
}

// wideCounters holds what overflowed a flow's sideCounters: the counts
// above 32 bits, as multiples of 2^32.
type wideCounters [2]struct{ Packets, IPBytes, PayloadBytes uint64 }

type list struct{ head, tail int32 }

// Tracker groups packets into bidirectional flows keyed by K. The zero
// Tracker is not usable; create one with NewTracker. A Tracker is not safe
// for concurrent use: give each goroutine (each shard) its own.
type Tracker[K Key] struct {
	ext      Extractor[K]
	timeouts [numClasses]int64
	maxFlows int
	starts   bool

	dec   flowkey.Decoder
	d     flowkey.Decoded
	key   K
	table flowTable
	flows flowStore[K]
	tcps  paged[tcpState]
	free  []int32
	lists [numClasses]list

	now      int64 // highest packet time seen, Unix ns
	nextScan int64
	stats    Stats

	newStream         NewStreamFunc
	newDatagram       NewDatagramFunc
	maxBuffer, budget int
	overlap           OverlapPolicy
	compare           int
	reasmUsed         int   // out-of-order bytes held across all flows
	chunk             Chunk // handed to stream handlers, reused
	segFree           [][]byte
	strm              []*streams // TCP flows' reassembly state, by entry.sid-1
	strmFree          []int32
	ack               uint64 // Chunk.Ack of the packet being reassembled
	defrag            flowkey.Defragmenter
	od                flowkey.Decoded         // a tunnel's outer conversation
	parent            [18]byte                // the uid of the tunnel the packet came through
	parents           map[int32][18]byte      // tunnel parents of open flows, by index
	keyAddrs          bool                    // K is an addrKey
	carries           map[int32]*wideCounters // counter overflows of open flows, by index
	links             linkTable
	addrs             map[int32][2]flowkey.Addr // orig and resp addresses, by index, when it is not
	scratch           FlowRecord                // records handed to handlers and built for events
	// dgram holds UDP flows' handlers, by entry.sid-1 (strm holds nil
	// there): a UDP flow needs none of the reassembly state, which would
	// be most of what it holds while open.
	dgram []DatagramHandler
}

// Relinking. A flow's place in its class list is stamped in whole
// seconds (rounded up from its last packet) and moved to the tail only
// when a packet comes after its stamp: at most once a second of packet
// time. Moving on every packet kept the lists exact but touched two other
// flows' entries per packet; moving at most once a second cut the
// tracker's per-packet cost by about a tenth (bench/README.md), and a
// stamp in seconds keeps the entry small. Expiry checks each flow's own
// last packet time, so no flow ends early; a flow's record may be emitted
// up to a second later than its exact timeout.

// scanInterval is how often, in packet time, Track looks for idle flows.
// Lookups also expire a stale flow on the spot, so the interval only
// bounds how late an idle flow's record is emitted, not its content.
const scanInterval = int64(time.Second)

// NewTracker returns a tracker that keys flows with ext. A nil cfg means
// all defaults.
func NewTracker[K Key](ext Extractor[K], cfg *Config) *Tracker[K] {
	var c Config
	if cfg != nil {
		c = *cfg
	}
	or := func(d, def time.Duration) int64 {
		if d <= 0 {
			d = def
		}
		return int64(d)
	}
	t := &Tracker[K]{ext: ext, maxFlows: c.MaxFlows, starts: c.StartEvents,
		newStream: c.NewStream, newDatagram: c.NewDatagram, maxBuffer: c.MaxBufferPerSide, budget: c.ReassemblyBudget, overlap: c.Overlap,
		compare: max(c.CompareRetransmissions, 0)}
	t.defrag = flowkey.Defragmenter{MaxDatagrams: c.Fragments.MaxDatagrams, MaxBytes: c.Fragments.MaxBytes, Timeout: c.Fragments.Timeout}
	if t.maxBuffer <= 0 {
		t.maxBuffer = DefaultMaxBufferPerSide
	}
	if t.budget <= 0 {
		t.budget = DefaultReassemblyBudget
	}
	t.timeouts[classTCPAttempt] = or(c.TCPAttemptTimeout, DefaultTCPAttemptTimeout)
	t.timeouts[classTCPEstablished] = or(c.TCPEstablishedTimeout, DefaultTCPEstablishedTimeout)
	t.timeouts[classTCPClosed] = or(c.TCPCloseLinger, DefaultTCPCloseLinger)
	t.timeouts[classUDP] = or(c.UDPTimeout, DefaultUDPTimeout)
	t.timeouts[classOther] = or(c.OtherTimeout, DefaultOtherTimeout)
	if t.maxFlows <= 0 {
		t.maxFlows = DefaultMaxFlows
	}
	t.maxFlows = min(t.maxFlows, maxTableFlows)
	_, t.keyAddrs = any(new(K)).(addrKey)
	t.table.init(min(2*t.maxFlows, minTableSlots), t.maxFlows)
	for i := range t.lists {
		t.lists[i] = list{none, none}
	}
	return t
}

// Stats returns the tracker's counters.
func (t *Tracker[K]) Stats() Stats {
	s := t.stats
	ds := t.defrag.Stats()
	s.FragmentsDropped = ds.TimedOut + ds.Evicted + ds.TooBig
	s.FragmentOverlaps = ds.Overlaps
	return s
}

// DefragStats returns the counters of IP fragment reassembly.
func (t *Tracker[K]) DefragStats() flowkey.DefragStats { return t.defrag.Stats() }

// Buffered returns the out-of-order bytes the tracker holds now, across
// all connections; it never exceeds Config.ReassemblyBudget.
func (t *Tracker[K]) Buffered() int { return t.reasmUsed }

// Len returns the number of open flows.
func (t *Tracker[K]) Len() int { return t.table.count }

// Now returns the tracker's clock: the highest packet time seen or
// advanced to, in Unix nanoseconds.
func (t *Tracker[K]) Now() int64 { return t.now }

// Track accounts one packet and appends the events it caused to out:
// flows ended by idleness or reuse, an eviction, and (with StartEvents)
// the start of a new flow. It allocates nothing for packets of known
// flows. The packet's bytes are not kept.
func (t *Tracker[K]) Track(p *Packet, out []FlowEvent) []FlowEvent {
	err := t.dec.Decode(p.LinkType, p.Data, &t.d)
	return t.TrackDecoded(p, &t.d, err, out)
}

// TrackDecoded is Track for a packet already decoded: d and err are what
// flowkey.Decoder.Decode returned for p's link type and data, which d
// still points into. A stage that reads packets can decode them on its
// own core, while they are in its cache, and leave the tracker only
// this. The tracker reads d and does not keep it.
func (t *Tracker[K]) TrackDecoded(p *Packet, d *flowkey.Decoded, err error, out []FlowEvent) []FlowEvent {
	t.stats.Packets++
	ts := p.Timestamp.UnixNano()
	if ts > t.now {
		t.now = ts
	}
	if err != nil {
		switch err {
		case flowkey.ErrFragment:
			if d != &t.d {
				// The reassembled datagram is decoded into the
				// tracker's own, not the caller's.
				t.d = *d
				d = &t.d
			}
			// Reassemble, then track the whole datagram as one packet.
			dg, done := t.defrag.Add(d, ts)
			if !done {
				t.stats.Fragments++
				return t.maybeScan(out)
			}
			link := flowkey.LinkIPv4
			if d.IPVersion == 6 {
				link = flowkey.LinkIPv6
			}
			if err := t.dec.Decode(link, dg, d); err != nil && err != flowkey.ErrNotIP {
				t.stats.Malformed++
				return t.maybeScan(out)
			}
			t.stats.Reassembled++
		case flowkey.ErrNotIP:
		case flowkey.ErrUnsupportedLinkType:
			t.stats.UnsupportedLink++
			return t.maybeScan(out)
		case flowkey.ErrTruncated:
			t.stats.Truncated++
			return t.maybeScan(out)
		default:
			t.stats.Malformed++
			return t.maybeScan(out)
		}
	}
	t.parent = [18]byte{}
	if d.Tunnel.Kind != flowkey.NoTunnel {
		// The tunnel's own UDP conversation is a flow too, and the parent
		// of the flows inside it.
		tn := &d.Tunnel
		od := &t.od
		od.Headers = flowkey.Headers{IPVersion: tn.IPVersion, Src: tn.Src, Dst: tn.Dst, Proto: flowkey.ProtoUDP,
			SrcPort: tn.SrcPort, DstPort: tn.DstPort, IPLength: int(tn.IPLength), PayloadLen: int(tn.PayloadLen)}
		od.Tunnel.Kind = flowkey.NoTunnel
		var idx int32
		if out, idx = t.trackDecoded(od, ts, out); idx >= 0 {
			t.record(idx, t.flows.at(idx), &t.scratch)
			t.scratch.AppendUID(t.parent[:0])
		}
	}
	out, _ = t.trackDecoded(d, ts, out)
	return t.maybeScan(out)
}

// trackDecoded accounts one decoded packet to its flow and returns the
// flow's index, or -1 when the packet belongs to none.
func (t *Tracker[K]) trackDecoded(d *flowkey.Decoded, ts int64, out []FlowEvent) ([]FlowEvent, int32) {
	fwd, ok := t.ext.Extract(d, &t.key)
	key := t.key
	if !ok {
		switch {
		case d.Fragment:
			t.stats.Fragments++
		case d.IPVersion == 0:
			t.stats.NotIP++
		default:
			t.stats.NoKey++
		}
		return out, -1
	}

	h := key.Hash()
	idx := lookup(&t.table, &t.flows, key, h)
	found := idx >= 0
	if found {
		e := t.flows.at(idx)
		switch {
		case ts-e.rec.Last > t.timeouts[e.rec.class]:
			out = t.end(idx, t.idleReason(e), out)
			found = false
		case e.rec.class == classTCPClosed && d.Proto == flowkey.ProtoTCP &&
			d.Flags&(flowkey.FlagSYN|flowkey.FlagACK) == flowkey.FlagSYN:
			// A new SYN on a finished connection: the 4-tuple is reused.
			out = t.end(idx, t.idleReason(e), out)
			found = false
		}
	}
	if !found {
		if t.table.count >= t.maxFlows {
			out = t.evict(out)
		}
		idx = t.start(key, h, fwd, ts, d)
		if t.starts {
			t.record(idx, t.flows.at(idx), &t.scratch)
			out = append(out, FlowEvent{Kind: FlowStarted, Flow: t.scratch})
		}
	}
	e := t.flows.at(idx)
	s := Orig
	if fwd != e.rec.origIsFwd() {
		s = Resp
	}
	st := &e.rec.Stats[s]
	ipLen, payLen := uint32(d.IPLength), uint32(d.PayloadLen)
	st.Packets++
	st.IPBytes += ipLen
	st.PayloadBytes += payLen
	if st.Packets == 0 || st.IPBytes < ipLen || st.PayloadBytes < payLen {
		t.carry(idx, s, st, ipLen, payLen)
	}
	if ts > e.rec.Last {
		e.rec.Last = ts
	}
	switch d.Proto {
	case flowkey.ProtoTCP:
		if d.IPVersion != 0 {
			if e.rec.tcp == 0 { // a flow keyed without the protocol, started by another
				e.rec.tcp = t.tcps.add() + 1
			}
			tcp := t.tcpOf(e)
			at := e.trackTCP(tcp, s, d)
			if !found && t.newStream != nil {
				t.record(idx, e, &t.scratch)
				if sh := t.newStream(&t.scratch); sh != nil {
					st := &streams{h: sh, discard: sh == Discard}
					st.done, _ = sh.(Doner)
					t.attach(e, st, nil)
				}
			}
			// A flow keyed without the protocol and started by UDP has a
			// datagram handler, not streams: its TCP goes to no handler.
			if e.rec.sid != 0 && t.strm[e.rec.sid-1] != nil {
				t.ack = 0
				if peer := &tcp[s.Other()]; d.Flags&flowkey.FlagACK != 0 && peer.haveSeq {
					if a, base := unwrap(peer.top(), d.Ack), peer.start()+1; a > base {
						t.ack = a - base
					}
				}
				if d.Flags&flowkey.FlagACK != 0 {
					t.ackedPastHole(e, s.Other(), ts)
				}
				t.reassemble(e, s, at, d.Payload, d.PayloadLen, ts)
			}
		}
	case flowkey.ProtoUDP:
		if d.PayloadLen > 0 {
			e.letter(s, bitData)
			if e.rec.sid != 0 && t.strm[e.rec.sid-1] == nil { // not a TCP-started flow's
				t.dgram[e.rec.sid-1].Datagram(s, d.Payload, ts)
			}
		}
	}
	// Keep the flow's place in its class list roughly in step with its
	// last packet (see Relinking); a change of class moves it at once.
	if c := t.classify(e); c != e.rec.class || ts >= int64(e.rec.linkedAt)*int64(time.Second) {
		t.unlink(idx)
		e.rec.class = c
		t.pushBack(idx, ts)
	}
	return out, idx
}

// start creates a flow for key from its first packet.
func (t *Tracker[K]) start(key K, h uint64, fwd bool, ts int64, d *flowkey.Decoded) int32 {
	var idx int32
	if n := len(t.free); n > 0 {
		idx = t.free[n-1]
		t.free = t.free[:n-1]
	} else {
		idx = t.flows.add()
	}
	e := t.flows.at(idx)
	*e = entry[K]{key: key, prev: none, next: none}
	e.rec.setOrigIsFwd(fwd)
	r := &e.rec
	r.Proto = d.Proto
	r.First, r.Last = ts, ts
	r.OrigPort, r.RespPort = d.SrcPort, d.DstPort
	link := linkInfo{origMAC: d.SrcMAC, respMAC: d.DstMAC, vlan: d.VLAN, ipVersion: d.IPVersion}
	if !t.keyAddrs && (d.Src != flowkey.Addr{} || d.Dst != flowkey.Addr{}) {
		if t.addrs == nil {
			t.addrs = map[int32][2]flowkey.Addr{}
		}
		t.addrs[idx] = [2]flowkey.Addr{d.Src, d.Dst}
	}
	if d.Tunnel.Kind != flowkey.NoTunnel {
		if t.parents == nil {
			t.parents = map[int32][18]byte{}
		}
		t.parents[idx] = t.parent
	}
	if d.Proto == flowkey.ProtoTCP && d.IPVersion != 0 &&
		d.Flags&(flowkey.FlagSYN|flowkey.FlagACK) == flowkey.FlagSYN|flowkey.FlagACK {
		// The first packet is a SYN-ACK: its receiver opened the connection.
		e.rec.setOrigIsFwd(!fwd)
		r.OrigPort, r.RespPort = r.RespPort, r.OrigPort
		link.origMAC, link.respMAC = link.respMAC, link.origMAC
		if a, ok := t.addrs[idx]; ok {
			t.addrs[idx] = [2]flowkey.Addr{a[1], a[0]}
		}
		r.History.add(histFlipped)
	}
	r.link = t.links.ref(link)
	if d.Proto == flowkey.ProtoTCP {
		e.rec.tcp = t.tcps.add() + 1
	}
	e.rec.class = t.classify(e)
	insert(&t.table, &t.flows, idx, h)
	t.stats.Flows++
	if d.IPVersion != 0 {
		// A TCP connection's stream handler is asked for once its first
		// packet is accounted (trackDecoded), so that the record shows
		// how it began: a parser may trust a stream seen from its SYN to
		// start with the protocol's first bytes.
		if t.newDatagram != nil && d.Proto == flowkey.ProtoUDP {
			t.record(idx, e, &t.scratch)
			if dh := t.newDatagram(&t.scratch); dh != nil {
				t.attach(e, nil, dh)
			}
		}
	}
	return idx
}

// record builds the FlowRecord of flow idx (entry e) in r, as it stands;
// Bytes, State and Reason are left for end to work out.
func (t *Tracker[K]) record(idx int32, e *entry[K], r *FlowRecord) {
	c := &e.rec
	l := t.links.get(c.link)
	*r = FlowRecord{First: c.First, Last: c.Last, Proto: c.Proto, IPVersion: l.ipVersion, VLAN: l.vlan,
		Orig: Endpoint{Port: c.OrigPort, MAC: l.origMAC}, Resp: Endpoint{Port: c.RespPort, MAC: l.respMAC}, History: c.History}
	if t.keyAddrs {
		lo, hi := any(&e.key).(addrKey).Addrs()
		if !e.rec.origIsFwd() {
			lo, hi = hi, lo
		}
		r.Orig.Addr, r.Resp.Addr = lo, hi
	} else if a, ok := t.addrs[idx]; ok {
		r.Orig.Addr, r.Resp.Addr = a[0], a[1]
	}
	for s := range r.Stats {
		r.Stats[s] = SideStats{Packets: uint64(c.Stats[s].Packets), IPBytes: uint64(c.Stats[s].IPBytes), PayloadBytes: uint64(c.Stats[s].PayloadBytes)}
	}
	if len(t.carries) != 0 {
		if w, ok := t.carries[idx]; ok {
			for s := range r.Stats {
				r.Stats[s].Packets += w[s].Packets
				r.Stats[s].IPBytes += w[s].IPBytes
				r.Stats[s].PayloadBytes += w[s].PayloadBytes
			}
		}
	}
	if e.rec.sid != 0 {
		if st := t.strm[e.rec.sid-1]; st != nil {
			r.Streams = st.stats
			r.MissedBytes = st.stats[Orig].GapBytes + st.stats[Resp].GapBytes
		}
	}
	if t.parents != nil {
		r.TunnelParent = t.parents[idx]
	}
}

// attach gives a flow its handler state, a TCP flow's streams or a UDP
// flow's datagram handler, in a slot of t.strm and t.dgram.
func (t *Tracker[K]) attach(e *entry[K], st *streams, dh DatagramHandler) {
	if n := len(t.strmFree); n > 0 {
		e.rec.sid = t.strmFree[n-1]
		t.strmFree = t.strmFree[:n-1]
	} else {
		t.strm = append(t.strm, nil)
		e.rec.sid = int32(len(t.strm))
	}
	t.strm[e.rec.sid-1] = st
	if dh != nil {
		if len(t.dgram) < len(t.strm) {
			t.dgram = append(t.dgram, make([]DatagramHandler, len(t.strm)-len(t.dgram))...)
		}
		t.dgram[e.rec.sid-1] = dh
	}
}

// tcpOf returns the TCP state of a TCP flow.
func (t *Tracker[K]) tcpOf(e *entry[K]) *tcpState { return t.tcps.at(e.rec.tcp - 1) }

// classify returns the timeout class of a flow from its current state.
func (t *Tracker[K]) classify(e *entry[K]) uint8 {
	switch e.rec.Proto {
	case flowkey.ProtoTCP:
		if e.rec.tcp == 0 {
			return classTCPAttempt
		}
		tcp := t.tcpOf(e)
		o, r := tcp[Orig].state, tcp[Resp].state
		switch {
		case o == tcpReset || r == tcpReset || (o == tcpClosed && r == tcpClosed):
			return classTCPClosed
		case o == tcpEstablished || r == tcpEstablished || o == tcpPartial || r == tcpPartial ||
			o == tcpClosed || r == tcpClosed:
			return classTCPEstablished
		}
		return classTCPAttempt
	case flowkey.ProtoUDP:
		return classUDP
	}
	return classOther
}

// carry records that a counter of side s of flow idx wrapped when the
// packet just counted (ipLen and payLen bytes) was added.
func (t *Tracker[K]) carry(idx int32, s Side, st *sideCounters, ipLen, payLen uint32) {
	if t.carries == nil {
		t.carries = map[int32]*wideCounters{}
	}
	w := t.carries[idx]
	if w == nil {
		w = new(wideCounters)
		t.carries[idx] = w
	}
	if st.Packets == 0 {
		w[s].Packets += 1 << 32
	}
	if st.IPBytes < ipLen {
		w[s].IPBytes += 1 << 32
	}
	if st.PayloadBytes < payLen {
		w[s].PayloadBytes += 1 << 32
	}
}

// idleReason is the end reason of a flow that timed out in its class.
func (t *Tracker[K]) idleReason(e *entry[K]) EndReason {
	if e.rec.class == classTCPClosed {
		if tcp := t.tcpOf(e); tcp[Orig].state == tcpReset || tcp[Resp].state == tcpReset {
			return EndRST
		}
		return EndFIN
	}
	return EndIdle
}

// end finalises flow idx with reason and appends its record to out.
func (t *Tracker[K]) end(idx int32, reason EndReason, out []FlowEvent) []FlowEvent {
	e := t.flows.at(idx)
	t.unlink(idx)
	remove(&t.table, &t.flows, idx, e.key.Hash())
	t.free = append(t.free, idx)
	if e.rec.sid != 0 && t.strm[e.rec.sid-1] != nil {
		t.finishStreams(e)
	}
	r := &t.scratch
	t.record(idx, e, r)
	r.Reason = reason
	if t.parents != nil {
		delete(t.parents, idx)
	}
	if t.addrs != nil {
		delete(t.addrs, idx)
	}
	if len(t.carries) != 0 {
		delete(t.carries, idx)
	}
	t.links.unref(e.rec.link)
	switch r.Proto {
	case flowkey.ProtoTCP:
		var o, s *sideState
		if e.rec.tcp != 0 {
			o, s = &t.tcpOf(e)[Orig], &t.tcpOf(e)[Resp]
		} else {
			o, s = &sideState{}, &sideState{}
		}
		r.Stats[Orig].Bytes, r.Stats[Resp].Bytes = o.size(), s.size()
		r.State = tcpConnState(o, s, r.Stats[Orig].Bytes == 0 && r.Stats[Resp].Bytes == 0, &r.History)
	case flowkey.ProtoUDP:
		r.Stats[Orig].Bytes, r.Stats[Resp].Bytes = r.Stats[Orig].PayloadBytes, r.Stats[Resp].PayloadBytes
		oa, ra := r.Stats[Orig].Packets > 0, r.Stats[Resp].Packets > 0
		switch {
		case oa && ra:
			r.State = StateSF
		case oa:
			r.State = StateS0
		case ra:
			r.State = StateSHR
		default:
			r.State = StateOTH
		}
	default:
		r.Stats[Orig].Bytes, r.Stats[Resp].Bytes = r.Stats[Orig].PayloadBytes, r.Stats[Resp].PayloadBytes
		r.State = StateOTH
	}
	if e.rec.sid != 0 {
		if st := t.strm[e.rec.sid-1]; st != nil {
			st.h.End(r)
		} else {
			t.dgram[e.rec.sid-1].End(r)
		}
		t.releaseStreams(e)
	}
	if e.rec.tcp != 0 {
		t.tcps.release(e.rec.tcp - 1)
		e.rec.tcp = 0
	}
	return append(out, FlowEvent{Kind: FlowEnded, Flow: *r})
}

// evict ends the least recently seen flow across all classes.
func (t *Tracker[K]) evict(out []FlowEvent) []FlowEvent {
	victim := int32(none)
	for c := range t.lists {
		h := t.lists[c].head
		if h != none && (victim == none || t.flows.at(h).rec.Last < t.flows.at(victim).rec.Last) {
			victim = h
		}
	}
	if victim == none {
		return out
	}
	t.stats.Evicted++
	return t.end(victim, EndEvicted, out)
}

// maybeScan looks for idle flows once per scanInterval of packet time.
// The check is kept apart from the scan so that it inlines into Track.
func (t *Tracker[K]) maybeScan(out []FlowEvent) []FlowEvent {
	if t.now < t.nextScan {
		return out
	}
	return t.scan(out)
}

func (t *Tracker[K]) scan(out []FlowEvent) []FlowEvent {
	t.nextScan = t.now + scanInterval
	return t.expire(t.now, out)
}

// expire ends every flow idle for longer than its class's timeout at now.
// Lists are ordered by linkedAt, which is never earlier than a flow's
// last packet when stamped and trails it by less than a second after; a
// head that is not idle after all is moved to the tail, so the scan stops
// at the first flow stamped within the timeout.
func (t *Tracker[K]) expire(now int64, out []FlowEvent) []FlowEvent {
	for c := range t.lists {
		timeout := t.timeouts[c]
		for h := t.lists[c].head; h != none; h = t.lists[c].head {
			e := t.flows.at(h)
			if now-int64(e.rec.linkedAt)*int64(time.Second) <= timeout {
				break
			}
			if now-e.rec.Last > timeout {
				out = t.end(h, t.idleReason(e), out)
				continue
			}
			t.unlink(h)
			t.pushBack(h, e.rec.Last)
		}
	}
	return out
}

// Advance moves the clock to now (Unix ns) if it is later, and appends
// the records of flows that have timed out by then. A stream runtime
// calls it with the input's watermark so that timers fire even on a shard
// that receives no packets; live capture calls it with wall time.
func (t *Tracker[K]) Advance(now int64, out []FlowEvent) []FlowEvent {
	if now > t.now {
		t.now = now
	}
	return t.expire(t.now, out)
}

// Flush ends every open flow and appends their records to out, oldest
// first. Flows that had already timed out by the clock end with their
// timeout reason, finished TCP connections with EndFIN or EndRST, the
// rest with reason (EndOfInput or EndShutdown).
func (t *Tracker[K]) Flush(reason EndReason, out []FlowEvent) []FlowEvent {
	t.defrag.Flush()
	out = t.expire(t.now, out)
	for c := range t.lists {
		for h := t.lists[c].head; h != none; h = t.lists[c].head {
			e := t.flows.at(h)
			r := reason
			if c == classTCPClosed || t.now-e.rec.Last > t.timeouts[c] {
				r = t.idleReason(e)
			}
			out = t.end(h, r, out)
		}
	}
	return out
}

func (t *Tracker[K]) unlink(idx int32) {
	e := t.flows.at(idx)
	l := &t.lists[e.rec.class]
	if e.prev != none {
		t.flows.at(e.prev).next = e.next
	} else if l.head == idx {
		l.head = e.next
	}
	if e.next != none {
		t.flows.at(e.next).prev = e.prev
	} else if l.tail == idx {
		l.tail = e.prev
	}
	e.prev, e.next = none, none
}

// pushBack places idx at the tail of its class list, stamped at the
// later of at (rounded up to a second) and the current tail's stamp, so
// the list stays ordered and a stamp is never earlier than the flow's
// last packet.
func (t *Tracker[K]) pushBack(idx int32, at int64) {
	e := t.flows.at(idx)
	l := &t.lists[e.rec.class]
	stamp := ceilSeconds(at)
	e.prev, e.next = l.tail, none
	if l.tail != none {
		tail := t.flows.at(l.tail)
		tail.next = idx
		stamp = max(stamp, tail.rec.linkedAt)
	} else {
		l.head = idx
	}
	l.tail = idx
	e.rec.linkedAt = stamp
}

// ceilSeconds returns ns (Unix nanoseconds) in whole seconds, rounded up;
// 0 for times before 1970.
func ceilSeconds(ns int64) uint32 {
	if ns <= 0 {
		return 0
	}
	return uint32((ns + int64(time.Second) - 1) / int64(time.Second))
}
