package flowscope

import "bytes"

// chunk is a piece of one side of a TCP byte stream, delivered in stream
// order: either bytes, or a gap of bytes that will never be delivered.
type chunk struct {
	Side Side
	// Offset is the stream offset of the first byte (or of the gap):
	// bytes since the start of that side's stream. For a connection picked
	// up without its handshake, offset 0 is the first byte seen.
	Offset uint64
	// Bytes is the data, borrowed: valid only until the handler returns.
	// Nil for a gap.
	Bytes []byte
	// Gap is the number of missing bytes; 0 for data.
	Gap uint64
	// Time is the capture time, in Unix nanoseconds, of the packet that
	// made this chunk deliverable.
	Time int64
	// Ack is how far the packet that carried these bytes acknowledged the
	// other side's stream (a stream offset of the other side): its sender
	// had received the other side's bytes before Ack. 0 when unknown, and
	// for gaps. The orderer puts the two sides in causal order with it.
	Ack uint64
}

// streamHandler receives the reassembled streams of one TCP connection,
// in stream order per side: Chunk for each piece, then End once. It is
// called from the goroutine that drives the tracker. A handler that is
// also a Doner gets no more chunks once it is done (End still comes).
type streamHandler interface {
	// Chunk delivers the next piece of one side's stream; c and its bytes
	// are valid only until Chunk returns.
	Chunk(c *chunk)
	// End reports that the connection is over; rec is its final record.
	End(rec *FlowRecord)
}

// datagramHandler receives the datagrams of one UDP flow, in capture
// order: Datagram for each one with payload, then End once.
type datagramHandler interface {
	// Datagram delivers one payload of side s, borrowed: valid only until
	// Datagram returns.
	Datagram(s Side, payload []byte, ts int64)
	End(rec *FlowRecord)
}

// discard is a streamHandler that reads nothing. A connection given it is
// reassembled for its statistics alone (gaps, missed bytes, duplicates and
// overlaps; Inconsistent stays 0): out-of-order bytes are not kept, only
// where they lie, and its chunks carry zeros.
type discard struct{}

func (discard) Chunk(*chunk)    {}
func (discard) End(*FlowRecord) {}

// zeros stands in for the out-of-order bytes of a discard connection.
var zeros [segmentBufSize]byte

// segment is out-of-order data waiting for the bytes before it.
type segment struct {
	seq  uint64 // absolute sequence number (see sideState) of data[0]
	data []byte // owned copy
	ts   int64
	ack  uint64 // chunk.Ack of the packet that brought it
}

// segmentCost is what a buffered segment costs beyond its bytes (its
// entry in the list and its allocation's rounding), charged against the
// bounds so that they bound memory, not only payload.
const segmentCost = 128

// reasm is the reassembly state of one side of one connection.
type reasm struct {
	started  bool
	base     uint64 // absolute sequence number of stream offset 0
	next     uint64 // absolute sequence number of the next byte to deliver
	ooo      segList
	buffered int // memory held in ooo: bytes plus segmentCost each
	gaps     uint32

	// A hole the peer has acknowledged stays open a while (see
	// reassembler.pace): the bytes may come late, a capture reordered
	// across directions showing a segment after the acknowledgement that
	// covers it. waiting says one is open, since when (packet time) and
	// for how many of the connection's packets.
	waiting     bool
	waitLetters uint8 // the history's length when the wait opened
	waitPkts    uint16
	waitSince   int64
	// letterAt is 1 + where in the flow's history the gap letter goes
	// when the wait ends in a gap: where the history stood when the wait
	// opened, as Zeek, which does not wait, has it; 0, at its end.
	letterAt uint8

	// recent keeps the last delivered bytes (a ring indexed by sequence
	// number modulo its size) to compare retransmissions with, when
	// Config.CompareRetransmissions asks for it. Bytes before recentFrom
	// are not valid in it.
	recent     []byte
	recentFrom uint64
}

// remember copies delivered bytes b, which start at next, into the ring.
func (st *reasm) remember(b []byte) {
	n := uint64(len(st.recent))
	at := st.next
	if uint64(len(b)) > n {
		at += uint64(len(b)) - n
		b = b[uint64(len(b))-n:]
	}
	i := copy(st.recent[at%n:], b)
	copy(st.recent, b[i:])
}

// matchesRecent reports whether retransmitted bytes b, starting at abs
// (before next), agree with the delivered bytes still in the ring.
func (st *reasm) matchesRecent(abs uint64, b []byte) bool {
	n := uint64(len(st.recent))
	lo := max(abs, st.recentFrom)
	if st.next > n {
		lo = max(lo, st.next-n)
	}
	for x := lo; x < abs+uint64(len(b)); x++ {
		if st.recent[x%n] != b[x-abs] {
			return false
		}
	}
	return true
}

// streams is the reassembly state of one connection, and where its
// chunks go.
type streams struct {
	h       streamHandler
	done    Doner // h, if it can say it wants no more chunks
	side    [2]reasm
	stats   [2]StreamStats // FlowRecord.Streams
	discard bool           // h is discard: no bytes are kept
	quiet   bool           // h is done: chunks go no further
}

func newStreams(h streamHandler) *streams {
	st := &streams{h: h}
	_, st.discard = h.(discard)
	st.done, _ = h.(Doner)
	return st
}

// pass gives c to the handler unless it is done, and notes when it is.
func (st *streams) pass(c *chunk) {
	if !st.quiet {
		st.h.Chunk(c)
		st.quiet = st.done != nil && st.done.Done()
	}
}

// reassembler rebuilds the byte streams of a tracker's TCP connections:
// told of each segment and acknowledgement, it hands each connection's
// handler its chunks in stream order and declares the gaps, within its
// bounds. It holds what the connections share: the budget, the overlap
// policy, the free list of segment buffers and the chunk it hands out.
// Each connection's own state is a streams value. The zero reassembler
// is not usable; the tracker sets it up.
type reassembler struct {
	maxBuffer, budget int
	// reorderPackets and reorderWindow bound how long an acknowledged
	// hole waits for its bytes (Config.ReorderPackets, ReorderWindow).
	reorderPackets int
	reorderWindow  int64
	used           int // out-of-order bytes held across all connections
	overlap        OverlapPolicy
	compare        int
	chunk          chunk // handed to stream handlers, reused
	segFree        [][]byte
	boundGaps      uint64 // Stats.BoundGaps
}

// reasmConn is what one call of the reassembler is about: a connection's
// streams, its record (for history letters) and its TCP state.
type reasmConn struct {
	st  *streams
	rec *flowCore
	tcp *tcpState
}

// segment feeds one TCP segment of side s, starting at absolute sequence
// number abs, of which payload is what was captured and wire what was
// sent; ack is the segment's acknowledgement as a stream offset of the
// other side (chunk.Ack).
func (r *reassembler) segment(c reasmConn, s Side, abs uint64, payload []byte, wire int, ts int64, ack uint64) {
	st, me := &c.st.side[s], &c.tcp[s]
	if !st.started {
		st.started = true
		st.base = me.start() + 1
		st.next = st.base
		st.recentFrom = st.base
		if r.compare > 0 {
			st.recent = make([]byte, r.compare)
		}
	}
	if len(payload) > 0 {
		r.data(c, s, abs, payload, ts, ack)
	}
	if len(payload) < wire {
		// Cut by the snap length: the rest of this segment never arrives.
		r.gapAt(c, s, abs+uint64(len(payload)), uint64(wire-len(payload)), ts)
	}
}

func (r *reassembler) data(c reasmConn, s Side, abs uint64, payload []byte, ts int64, ack uint64) {
	st, me := &c.st.side[s], &c.tcp[s]
	end := abs + uint64(len(payload))
	stats := &c.st.stats[s]
	if abs < st.next && st.recent != nil {
		if !st.matchesRecent(abs, payload[:min(end, st.next)-abs]) {
			stats.Inconsistent++
		}
	}
	if end <= st.next {
		stats.Duplicates++ // already delivered
		return
	}
	if abs < st.next {
		stats.Overlaps++ // the front was delivered; deliver the rest
		payload = payload[st.next-abs:]
		abs = st.next
	}
	if abs > st.next && me.acked() > st.next {
		// The receiver acknowledged bytes not captured yet, and the
		// sender has moved on past them: they are late, or lost to the
		// capture. The hole waits for them (pace).
		r.await(st, ts, c.rec.History.Len())
	}
	if abs == st.next {
		r.deliver(c, s, payload, ts, ack)
		r.drain(c, s, ts)
		return
	}
	r.buffer(c, s, abs, payload, ts, ack)
}

// acked declares the holes of side s that its peer has just
// acknowledged, when s has sent data past them (buffered behind the
// first): the receiver has those bytes, the sender has moved on, so the
// capture missed them and they are not coming, as when the sender's next
// segment shows the same (data). Declared here, at the acknowledgement,
// the bytes behind the hole go to the parsers at once and their buffers
// are freed, instead of waiting for the sender's next segment, which on
// a connection gone quiet comes only at its idle timeout, minutes later.
// Zeek trims a stream to the peer's acknowledgements likewise. With
// nothing buffered, a late copy of the missing bytes (a capture reordered
// across directions) still fills the hole.
func (r *reassembler) acked(c reasmConn, s Side, ts int64) {
	st := &c.st.side[s]
	if st.ooo.len() == 0 {
		return
	}
	if c.tcp[s].acked() > st.next {
		r.await(st, ts, c.rec.History.Len())
	}
}

// await opens the wait of an acknowledged hole of side st, if none is
// open; the flow's history is hist letters long.
func (r *reassembler) await(st *reasm, ts int64, hist int) {
	if !st.waiting {
		st.waiting, st.waitPkts, st.waitSince = true, 0, ts
		st.waitLetters = uint8(hist)
	}
}

// pace counts a packet of the connection against the waits of its
// sides' acknowledged holes: a hole whose bytes came is done waiting; one
// that has waited reorderPackets packets or reorderWindow of packet time
// is declared, as far as the acknowledgement goes, and what is buffered
// behind it goes on.
func (r *reassembler) pace(c reasmConn, ts int64) {
	for s := Orig; s <= Resp; s++ {
		st := &c.st.side[s]
		if !st.waiting {
			continue
		}
		acked := c.tcp[s].acked()
		if acked <= st.next {
			st.waiting = false // filled: the late bytes came
			continue
		}
		st.waitPkts++
		if int(st.waitPkts) <= r.reorderPackets && ts-st.waitSince <= r.reorderWindow {
			continue
		}
		st.waiting = false
		st.letterAt = st.waitLetters + 1
		hole := acked
		if st.ooo.len() > 0 {
			hole = min(hole, st.ooo.front().seq)
		}
		r.skipTo(c, s, hole, ts)
		r.drain(c, s, ts)
		for st.ooo.len() > 0 && acked > st.next {
			r.skipTo(c, s, min(acked, st.ooo.front().seq), ts)
			r.drain(c, s, ts)
		}
		st.letterAt = 0
	}
}

// deliver hands in-order bytes to the handler without copying them.
func (r *reassembler) deliver(c reasmConn, s Side, b []byte, ts int64, ack uint64) {
	st := &c.st.side[s]
	// The chunk lives in the reassembler: a local would move to the heap
	// for every delivery, being passed to an interface method.
	ch := &r.chunk
	*ch = chunk{Side: s, Offset: st.next - st.base, Bytes: b, Time: ts, Ack: ack}
	if st.recent != nil {
		st.remember(b)
	}
	st.next += uint64(len(b))
	c.st.stats[s].Bytes += uint64(len(b))
	c.st.pass(ch)
	ch.Bytes = nil
}

// gapAt declares n missing bytes at absolute sequence number at, if they
// are not already delivered or declared.
func (r *reassembler) gapAt(c reasmConn, s Side, at, n uint64, ts int64) {
	st := &c.st.side[s]
	if at+n <= st.next || at > st.next {
		return // delivered already, or not yet reachable: handled later
	}
	r.skipTo(c, s, at+n, ts)
	r.drain(c, s, ts)
}

// skipTo declares everything from the next byte up to absolute sequence
// number to a gap, dropping buffered data before it.
func (r *reassembler) skipTo(c reasmConn, s Side, to uint64, ts int64) {
	st := &c.st.side[s]
	if to <= st.next {
		return
	}
	n := to - st.next
	ch := &r.chunk
	*ch = chunk{Side: s, Offset: st.next - st.base, Gap: n, Time: ts}
	st.next = to
	st.recentFrom = to // what the ring holds before the gap is stale
	c.st.stats[s].GapBytes += n
	c.rec.countLetterAt(s, histGap, &st.gaps, int(st.letterAt)-1)
	st.letterAt = 0
	c.st.pass(ch)
	// Buffered segments now wholly behind next are dropped by drain.
}

// drain delivers buffered segments that the next byte has reached.
func (r *reassembler) drain(c reasmConn, s Side, ts int64) {
	st := &c.st.side[s]
	for st.ooo.len() > 0 && st.ooo.front().seq <= st.next {
		seg := st.ooo.popFront()
		st.buffered -= cap(seg.data) + segmentCost
		r.used -= cap(seg.data) + segmentCost
		if end := seg.seq + uint64(len(seg.data)); end > st.next {
			r.deliver(c, s, seg.data[st.next-seg.seq:], max(ts, seg.ts), seg.ack)
		}
		r.recycle(seg.data)
	}
}

// buffer keeps an out-of-order segment (copied), merging it with what is
// buffered under the overlap policy, within the memory bounds.
func (r *reassembler) buffer(c reasmConn, s Side, abs uint64, payload []byte, ts int64, ack uint64) {
	st := &c.st.side[s]
	stats := &c.st.stats[s]
	discard := c.st.discard
	// Make room first: a full side, or a full budget, gives up its oldest
	// hole, delivering what follows it.
	need := segmentBufCap(len(payload)) + segmentCost
	for st.ooo.len() > 0 && (st.buffered+need > r.maxBuffer || r.used+need > r.budget) {
		r.boundGaps++
		r.skipTo(c, s, st.ooo.front().seq, ts)
		r.drain(c, s, ts)
	}
	if st.buffered+need > r.maxBuffer || r.used+need > r.budget || abs <= st.next {
		// Even an empty buffer cannot hold it (or draining reached it):
		// skip to it and deliver it now.
		if abs > st.next {
			r.boundGaps++
			r.skipTo(c, s, abs, ts)
		}
		if end := abs + uint64(len(payload)); end > st.next {
			r.deliver(c, s, payload[st.next-abs:], ts, ack)
		}
		r.drain(c, s, ts)
		return
	}
	// Cut the new bytes against each buffered segment they overlap.
	end := abs + uint64(len(payload))
	// From the first buffered segment ending past abs: a search, not a
	// walk, since behind a hole a list holds up to a window of segments.
	var piecesBuf [4]segment // on the stack in the common case
	pieces := piecesBuf[:0]
	cur := abs
	for j := st.ooo.endPast(abs); st.ooo.valid(j) && st.ooo.at(j).seq < end; j = st.ooo.next(j) {
		o := st.ooo.at(j)
		oEnd := o.seq + uint64(len(o.data))
		if o.seq > cur {
			pieces = append(pieces, segment{seq: cur, data: payload[cur-abs : o.seq-abs]})
		}
		lo, hi := max(cur, o.seq), min(end, oEnd)
		if lo < hi {
			newB, oldB := payload[lo-abs:hi-abs], o.data[lo-o.seq:hi-o.seq]
			if discard || bytes.Equal(newB, oldB) {
				if lo == abs && hi == end {
					stats.Duplicates++
				} else {
					stats.Overlaps++
				}
			} else {
				stats.Overlaps++
				stats.Inconsistent++
				if r.overlap == LastWins {
					copy(oldB, newB)
				}
			}
		}
		cur = max(cur, oEnd)
	}
	if cur < end {
		pieces = append(pieces, segment{seq: cur, data: payload[cur-abs:]})
	}
	for _, p := range pieces {
		var data []byte
		if discard && len(p.data) <= len(zeros) {
			// Where the bytes lie, not what they are; charged to the bounds
			// as a copy would be, so that gaps fall where they would.
			data = zeros[:len(p.data):segmentBufCap(len(p.data))]
		} else {
			data = append(r.segmentBuf(len(p.data)), p.data...) // out-of-order bytes outlive the packet
		}
		st.ooo.insert(segment{seq: p.seq, data: data, ts: ts, ack: ack})
		st.buffered += cap(data) + segmentCost
		r.used += cap(data) + segmentCost
	}
	if st.buffered > int(stats.PeakBuffered) {
		stats.PeakBuffered = uint64(st.buffered)
	}
}

// finish delivers what is buffered, declaring the holes before it and
// any data acknowledged or closed (FIN) but never captured. It runs when
// the connection ends, whatever the reason, before its record is final;
// ts is the time of its last packet.
func (r *reassembler) finish(c reasmConn, ts int64) {
	for s := Orig; s <= Resp; s++ {
		st, me := &c.st.side[s], &c.tcp[s]
		if !st.started {
			if !me.haveSeq || max(me.acked(), me.top()) <= me.start()+1 {
				continue
			}
			st.started, st.base = true, me.start()+1
			st.next = st.base
		}
		if st.waiting {
			// A wait still open ends in its gap, noticed when it opened.
			st.waiting, st.letterAt = false, st.waitLetters+1
		}
		for st.ooo.len() > 0 {
			r.skipTo(c, s, st.ooo.front().seq, ts)
			r.drain(c, s, ts)
		}
		// Bytes before a FIN, or acknowledged by the peer, beyond what was
		// delivered were sent but not captured.
		last := me.acked()
		if me.fin {
			last = me.top() - 1 // top counts the FIN's own octet
		}
		r.skipTo(c, s, last, ts)
		st.letterAt = 0
	}
}

// release returns a connection's buffered bytes to the budget.
func (r *reassembler) release(st *streams) {
	for s := range st.side {
		side := &st.side[s]
		r.used -= side.buffered
		side.ooo.reset(r.recycle)
		side.buffered = 0
	}
}

// Out-of-order segments of more than half and at most segmentBufSize
// bytes (full-size Ethernet segments) are copied into buffers kept on a
// free list, so a reordered bulk stream reuses memory instead of
// allocating per segment; smaller ones get buffers of their own size. The
// list holds at most maxFreeSegments buffers. The bounds are charged the
// buffers' capacity, not only the bytes in them.
const (
	segmentBufSize  = 2048
	maxFreeSegments = 4096
)

func segmentBufCap(n int) int {
	if n > segmentBufSize/2 && n <= segmentBufSize {
		return segmentBufSize
	}
	return n
}

func (r *reassembler) segmentBuf(n int) []byte {
	if segmentBufCap(n) != segmentBufSize {
		return make([]byte, 0, n)
	}
	if k := len(r.segFree); k > 0 {
		b := r.segFree[k-1]
		r.segFree = r.segFree[:k-1]
		return b
	}
	return make([]byte, 0, segmentBufSize)
}

func (r *reassembler) recycle(b []byte) {
	if cap(b) == segmentBufSize && len(r.segFree) < maxFreeSegments && &b[:1][0] != &zeros[0] {
		r.segFree = append(r.segFree, b[:0])
	}
}
