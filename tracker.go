package flowscope

import (
	"time"

	"github.com/flowscope-go/flowscope/flowkey"
)

// tracker groups packets into bidirectional flows keyed by K: the flow
// table, the TCP state machine, the timers, and the TCP reassembly of
// connections it is asked to reassemble. It tells its owner (the Driver)
// of each new TCP connection and UDP flow (newStream, newDatagram: the
// handlers they return get the flow's bytes) and of each flow that ends
// (ended). A tracker is not safe for concurrent use.
type tracker[K Key] struct {
	ext      Extractor[K]
	timeouts [numClasses]int64
	maxFlows int
	// memBudget bounds memUsed, what the flows are charged (see
	// Config.MemoryBudget); 0 means no bound.
	memBudget, memUsed int
	shedding           Shed // see Driver.SetShed

	// newStream returns the handler of a new TCP connection's streams,
	// or nil to leave its bytes alone; newDatagram the handler of a new
	// UDP flow's datagrams, or nil. They are given the flow's record as
	// of its first packet, theirs only during the call. Either may be
	// nil. ended is called with the final record of every flow that
	// ends, after the flow's handler's End.
	newStream   func(rec *FlowRecord) streamHandler
	newDatagram func(rec *FlowRecord) datagramHandler
	ended       func(rec *FlowRecord)

	dec   flowkey.Decoder
	d     flowkey.Decoded
	key   K
	table flowTable
	flows flowStore[K]
	tcps  paged[tcpState]
	free  []int32
	lists [numClasses]list

	now      int64 // the clock (see clock.go), in ns; it wraps, compare by difference
	lastTS   int64 // the packet time the clock last moved with, Unix ns
	clockSet bool
	maxStep  int64 // the longest step the clock takes (see tick)
	nextScan int64
	// expireLeft says the last scan left timed-out flows open (maxExpire).
	expireLeft bool
	stats      Stats

	reasm    reassembler
	defrag   flowkey.Defragmenter
	od       flowkey.Decoded         // a tunnel's outer conversation
	parent   [18]byte                // the uid of the tunnel the packet came through
	parents  map[int32][18]byte      // tunnel parents of open flows, by index
	keyAddrs bool                    // K is an addrKey
	carries  map[int32]*wideCounters // counter overflows of open flows, by index
	links    linkTable
	addrs    map[int32][2]flowkey.Addr // orig and resp addresses, by index, when it is not
	scratch  FlowRecord                // records handed to handlers and built for ends
	// Handler state of flows, by entry.sid-1: a TCP connection's streams
	// in strm (dgram holds nil there), a UDP flow's datagram handler in
	// dgram (strm holds nil there): a UDP flow needs none of the
	// reassembly state, which would be most of what it holds while open.
	strm     []*streams
	dgram    []datagramHandler
	slotFree []int32
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

// scanInterval is how often, in packet time, the tracker looks for idle
// flows. Lookups also expire a stale flow on the spot, so the interval
// only bounds how late an idle flow's record is emitted, not its content.
const scanInterval = int64(time.Second)

// newTracker returns a tracker that keys flows with ext, configured by c
// (its parsers are the Driver's business).
func newTracker[K Key](ext Extractor[K], c *Config) *tracker[K] {
	or := func(d, def time.Duration) int64 {
		if d <= 0 {
			d = def
		}
		return min(int64(d), maxTimeout)
	}
	t := &tracker[K]{ext: ext, maxFlows: c.MaxFlows, memBudget: max(c.MemoryBudget, 0)}
	t.reasm = reassembler{maxBuffer: c.MaxBufferPerSide, budget: c.ReassemblyBudget, overlap: c.Overlap,
		compare: max(c.CompareRetransmissions, 0)}
	t.defrag = flowkey.Defragmenter{MaxDatagrams: c.Fragments.MaxDatagrams, MaxBytes: c.Fragments.MaxBytes, Timeout: c.Fragments.Timeout}
	if t.reasm.maxBuffer <= 0 {
		t.reasm.maxBuffer = DefaultMaxBufferPerSide
	}
	switch {
	case c.ReorderPackets == 0:
		t.reasm.reorderPackets = DefaultReorderPackets
	case c.ReorderPackets > 0:
		t.reasm.reorderPackets = min(c.ReorderPackets, 1<<15)
	}
	switch {
	case c.ReorderWindow == 0:
		t.reasm.reorderWindow = int64(DefaultReorderWindow)
	case c.ReorderWindow > 0:
		t.reasm.reorderWindow = int64(c.ReorderWindow)
	default:
		t.reasm.reorderWindow = -1
	}
	if t.reasm.budget <= 0 {
		t.reasm.budget = DefaultReassemblyBudget
	}
	t.timeouts[classTCPAttempt] = or(c.TCPAttemptTimeout, DefaultTCPAttemptTimeout)
	t.timeouts[classTCPEstablished] = or(c.TCPEstablishedTimeout, DefaultTCPEstablishedTimeout)
	t.timeouts[classTCPClosed] = or(c.TCPCloseLinger, DefaultTCPCloseLinger)
	t.timeouts[classUDP] = or(c.UDPTimeout, DefaultUDPTimeout)
	t.timeouts[classOther] = or(c.OtherTimeout, DefaultOtherTimeout)
	fragTimeout := or(c.Fragments.Timeout, 30*time.Second)
	t.maxStep = fragTimeout
	for _, d := range t.timeouts {
		t.maxStep = max(t.maxStep, d)
	}
	t.maxStep += 2 * scanInterval
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
func (t *tracker[K]) Stats() Stats {
	s := t.stats
	s.BoundGaps = t.reasm.boundGaps
	ds := t.defrag.Stats()
	s.FragmentsDropped = ds.TimedOut + ds.Evicted + ds.TooBig
	s.FragmentOverlaps = ds.Overlaps
	return s
}

// track accounts one packet. It allocates nothing for packets of known
// flows. The packet's bytes are not kept.
func (t *tracker[K]) track(p *Packet) {
	err := t.dec.Decode(p.LinkType, p.Data, &t.d)
	t.trackDecoded(p, &t.d, err)
}

// trackDecoded is track for a packet already decoded: d and err are what
// flowkey.Decoder.Decode returned for p's link type and data, which d
// still points into. The tracker reads d and does not keep it.
func (t *tracker[K]) trackDecoded(p *Packet, d *flowkey.Decoded, err error) {
	t.stats.Packets++
	ts := p.Time
	t.tick(ts)
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
			dg, done := t.defrag.Add(d, t.now) // its timeout runs on the clock
			if !done {
				t.stats.Fragments++
				t.maybeScan()
				return
			}
			link := flowkey.LinkIPv4
			if d.IPVersion == 6 {
				link = flowkey.LinkIPv6
			}
			if err := t.dec.Decode(link, dg, d); err != nil && err != flowkey.ErrNotIP {
				t.stats.Malformed++
				t.maybeScan()
				return
			}
			t.stats.Reassembled++
		case flowkey.ErrNotIP:
		case flowkey.ErrUnsupportedLinkType:
			t.stats.UnsupportedLink++
			t.maybeScan()
			return
		case flowkey.ErrTruncated:
			t.stats.Truncated++
			t.maybeScan()
			return
		default:
			t.stats.Malformed++
			t.maybeScan()
			return
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
		if idx := t.trackFlow(od, ts); idx >= 0 {
			t.record(idx, t.flows.at(idx), &t.scratch)
			t.scratch.AppendUID(t.parent[:0])
		}
	}
	t.trackFlow(d, ts)
	t.maybeScan()
}

// trackFlow accounts one decoded packet to its flow and returns the
// flow's index, or -1 when the packet belongs to none.
func (t *tracker[K]) trackFlow(d *flowkey.Decoded, ts int64) int32 {
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
		return -1
	}

	h := key.Hash()
	idx := lookup(&t.table, &t.flows, key, h)
	found := idx >= 0
	if found {
		e := t.flows.at(idx)
		switch {
		case elapsed(ts, e.rec.Last) > t.timeouts[e.rec.class]:
			t.end(idx, t.idleReason(e))
			found = false
		case e.rec.class == classTCPClosed && d.Proto == flowkey.ProtoTCP &&
			d.Flags&(flowkey.FlagSYN|flowkey.FlagACK) == flowkey.FlagSYN:
			// A new SYN on a finished connection: the 4-tuple is reused.
			t.end(idx, t.idleReason(e))
			found = false
		}
	}
	if !found {
		if t.shedding >= ShedFlows {
			t.stats.ShedPackets++
			return -1
		}
		if t.table.count >= t.maxFlows {
			t.evict()
		}
		t.memUsed += flowMemory
		t.shed(none)
		idx = t.start(key, h, fwd, ts, d)
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
			t.trackTCP(idx, e, s, d, ts)
		}
	case flowkey.ProtoUDP:
		if d.PayloadLen > 0 {
			e.rec.letter(s, bitData)
			if e.rec.sid != 0 && t.strm[e.rec.sid-1] == nil { // not a TCP-started flow's
				t.dgram[e.rec.sid-1].Datagram(s, d.Payload, ts)
				if t.memBudget > 0 && t.memUsed > t.memBudget {
					t.shed(idx)
				}
			}
		}
	}
	// Keep the flow's place in its class list roughly in step with its
	// last packet (see Relinking); a change of class moves it at once.
	if c := t.classify(e); c != e.rec.class || sinceStamp(t.now, e.rec.linkedAt) >= 0 {
		t.unlink(idx)
		e.rec.class = c
		t.pushBack(idx, t.now)
	}
	return idx
}

// trackTCP runs the TCP state machine on a packet of side s of flow idx
// and reassembles its payload, asking for the connection's stream
// handler at its first payload.
func (t *tracker[K]) trackTCP(idx int32, e *entry[K], s Side, d *flowkey.Decoded, ts int64) {
	if e.rec.tcp == 0 { // a flow keyed without the protocol, started by another
		e.rec.tcp = t.tcps.add() + 1
	}
	tcp := t.tcpOf(e)
	at := e.rec.trackTCP(tcp, s, d)
	if d.PayloadLen > 0 && e.rec.sid == 0 {
		// The handler is asked for at the first segment with payload:
		// a connection that carries none (a scan's SYN, a refused
		// attempt, a pure ACK stream) costs no stream state (see
		// askStream).
		t.askStream(idx, e)
	}
	// A flow keyed without the protocol and started by UDP has a
	// datagram handler, not streams: its TCP goes to no handler.
	if e.rec.sid == 0 || t.strm[e.rec.sid-1] == nil {
		return
	}
	c := reasmConn{st: t.strm[e.rec.sid-1], rec: &e.rec, tcp: tcp}
	var ack uint64
	if peer := &tcp[s.Other()]; d.Flags&flowkey.FlagACK != 0 && peer.haveSeq {
		if a, base := unwrap(peer.top(), d.Ack), peer.start()+1; a > base {
			ack = a - base
		}
	}
	if d.Flags&flowkey.FlagACK != 0 {
		t.reasm.acked(c, s.Other(), ts)
	}
	t.reasm.segment(c, s, at, d.Payload, d.PayloadLen, ts, ack)
	t.reasm.pace(c, ts)
	if t.memBudget > 0 && t.memUsed > t.memBudget {
		t.shed(idx) // what the parsers hold grew past the budget
	}
}

// askStream asks for the stream handler of TCP flow idx, once. It is
// asked once the packet is accounted, so that the record shows how the
// connection began: a parser may trust a stream seen from its SYN to
// start with the protocol's first bytes.
func (t *tracker[K]) askStream(idx int32, e *entry[K]) {
	if t.newStream == nil || e.rec.seen&seenAsked != 0 {
		return
	}
	e.rec.seen |= seenAsked
	t.record(idx, e, &t.scratch)
	if sh := t.newStream(&t.scratch); sh != nil {
		t.attach(idx, e, newStreams(sh), nil)
	}
}

// start creates a flow for key from its first packet.
func (t *tracker[K]) start(key K, h uint64, fwd bool, ts int64, d *flowkey.Decoded) int32 {
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
	if t.shedding >= ShedParsers && (t.newStream != nil && d.Proto == flowkey.ProtoTCP || t.newDatagram != nil && d.Proto == flowkey.ProtoUDP) {
		// Under load, new flows go without their parsers: marked as asked,
		// they get no handler.
		e.rec.seen |= seenAsked
		t.stats.ShedParsers++
		return idx
	}
	if d.IPVersion != 0 && t.newDatagram != nil && d.Proto == flowkey.ProtoUDP {
		// (A TCP connection's stream handler is asked for at its first
		// payload: trackTCP.)
		t.record(idx, e, &t.scratch)
		if dh := t.newDatagram(&t.scratch); dh != nil {
			t.attach(idx, e, nil, dh)
		}
	}
	return idx
}

// record builds the FlowRecord of flow idx (entry e) in r, as it stands;
// Bytes, State and Reason are left for end to work out.
func (t *tracker[K]) record(idx int32, e *entry[K], r *FlowRecord) {
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
func (t *tracker[K]) attach(idx int32, e *entry[K], st *streams, dh datagramHandler) {
	if st != nil {
		t.memUsed += connMemory
	} else {
		t.memUsed += datagramMemory
	}
	t.shed(idx)
	if n := len(t.slotFree); n > 0 {
		e.rec.sid = t.slotFree[n-1]
		t.slotFree = t.slotFree[:n-1]
	} else {
		t.strm = append(t.strm, nil)
		e.rec.sid = int32(len(t.strm))
	}
	t.strm[e.rec.sid-1] = st
	if dh != nil {
		if len(t.dgram) < len(t.strm) {
			t.dgram = append(t.dgram, make([]datagramHandler, len(t.strm)-len(t.dgram))...)
		}
		t.dgram[e.rec.sid-1] = dh
	}
}

// detach frees a flow's handler slot, returning what its streams held
// to the reassembly budget.
func (t *tracker[K]) detach(e *entry[K]) {
	if st := t.strm[e.rec.sid-1]; st != nil {
		t.reasm.release(st)
		t.memUsed -= connMemory
	} else {
		t.dgram[e.rec.sid-1] = nil
		t.memUsed -= datagramMemory
	}
	t.strm[e.rec.sid-1] = nil
	t.slotFree = append(t.slotFree, e.rec.sid)
	e.rec.sid = 0
}

// tcpOf returns the TCP state of a TCP flow.
func (t *tracker[K]) tcpOf(e *entry[K]) *tcpState { return t.tcps.at(e.rec.tcp - 1) }

// classify returns the timeout class of a flow from its current state.
func (t *tracker[K]) classify(e *entry[K]) uint8 {
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
func (t *tracker[K]) carry(idx int32, s Side, st *sideCounters, ipLen, payLen uint32) {
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
