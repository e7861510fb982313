package flowscope

import (
	"github.com/flowscope-go/flowscope/flowkey"
)

// idleReason is the end reason of a flow that timed out in its class.
func (t *tracker[K]) idleReason(e *entry[K]) EndReason {
	if e.rec.class == classTCPClosed {
		if tcp := t.tcpOf(e); tcp[Orig].state == tcpReset || tcp[Resp].state == tcpReset {
			return EndRST
		}
		return EndFIN
	}
	return EndIdle
}

// end finalises flow idx with reason: it flushes the flow's streams,
// ends its handler, and gives its final record to ended.
func (t *tracker[K]) end(idx int32, reason EndReason) {
	e := t.flows.at(idx)
	if e.rec.sid == 0 && e.rec.tcp != 0 && t.missedAll(t.tcpOf(e)) {
		// Bytes were sent that no packet carried: the handler hears of
		// them as a gap.
		t.askStream(idx, e)
	}
	t.unlink(idx)
	remove(&t.table, &t.flows, idx, e.key.Hash())
	t.free = append(t.free, idx)
	t.memUsed -= flowMemory
	if e.rec.sid != 0 && t.strm[e.rec.sid-1] != nil {
		t.reasm.finish(reasmConn{st: t.strm[e.rec.sid-1], rec: &e.rec, tcp: t.tcpOf(e)}, e.rec.Last)
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
		t.detach(e)
	}
	if e.rec.tcp != 0 {
		t.tcps.release(e.rec.tcp - 1)
		e.rec.tcp = 0
	}
	if t.ended != nil {
		t.ended(r)
	}
}

// evict ends the least recently seen flow across all classes.
func (t *tracker[K]) evict() { t.evictBut(none) }

// evictBut is evict sparing flow keep (the one a packet is being
// tracked for); it reports whether a flow was ended.
func (t *tracker[K]) evictBut(keep int32) bool {
	victim := int32(none)
	for c := range t.lists {
		h := t.lists[c].head
		if h == keep && h != none {
			h = t.flows.at(h).next
		}
		if h != none && (victim == none ||
			sinceStamp(t.now, t.flows.at(h).rec.linkedAt) > sinceStamp(t.now, t.flows.at(victim).rec.linkedAt)) {
			victim = h
		}
	}
	if victim == none {
		return false
	}
	t.stats.Evicted++
	t.end(victim, EndEvicted)
	return true
}

// shed ends the least recently seen flows other than keep while the
// memory the flows are charged (Config.MemoryBudget) is over the budget.
func (t *tracker[K]) shed(keep int32) {
	for t.memBudget > 0 && t.memUsed > t.memBudget {
		if !t.evictBut(keep) {
			return
		}
		t.stats.MemoryEvicted++
	}
}

// maybeScan looks for idle flows once per scanInterval of packet time.
// The check is kept apart from the scan so that it inlines.
func (t *tracker[K]) maybeScan() {
	if t.now-t.nextScan >= 0 {
		t.scan()
	}
}

func (t *tracker[K]) scan() {
	t.nextScan = t.now + scanInterval
	if t.expireLeft = t.expire(t.now); t.expireLeft {
		t.nextScan = t.now // more to end: the next packet goes on
	}
}

// maxExpire bounds the flows one scan ends: a jump of the clock that
// times out a million flows at once would otherwise make a million
// records in one call. The rest end at the next calls (the next
// packets; see Driver.Expiring).
const maxExpire = 4096

// expire ends every flow idle for longer than its class's timeout at
// clock time now. Lists are ordered by stamp (linkedAt), which is never
// earlier than a flow's last packet on the clock and trails it by less
// than a tick, so the scan stops at the first flow stamped within the
// timeout. It ends at most maxExpire flows and reports whether more are
// due.
func (t *tracker[K]) expire(now int64) bool {
	n := maxExpire
	for c := range t.lists {
		timeout := t.timeouts[c]
		for h := t.lists[c].head; h != none; h = t.lists[c].head {
			e := t.flows.at(h)
			if sinceStamp(now, e.rec.linkedAt) <= timeout {
				break
			}
			if n == 0 {
				return true
			}
			n--
			t.end(h, t.idleReason(e))
		}
	}
	return false
}

// advance moves the clock with packet time (or wall time) now, as a
// packet would, and ends the flows that have timed out by then.
func (t *tracker[K]) advance(now int64) {
	t.tick(now)
	t.scan()
}

// flush ends every open flow, oldest first. Flows that had already timed
// out by the clock end with their timeout reason, finished TCP
// connections with EndFIN or EndRST, the rest with reason.
//
// With n > 0 it ends at most n flows (besides those expire ends) and
// reports whether any are left.
func (t *tracker[K]) flush(reason EndReason, n int) bool {
	t.defrag.Flush()
	for t.expire(t.now) {
		if n > 0 {
			return true // a part ended; the rest at the next call
		}
	}
	t.expireLeft = false
	for c := range t.lists {
		for h := t.lists[c].head; h != none; h = t.lists[c].head {
			if n == 0 {
				return true
			}
			n--
			e := t.flows.at(h)
			r := reason
			if c == classTCPClosed || sinceStamp(t.now, e.rec.linkedAt) > t.timeouts[c] ||
				elapsed(t.lastTS, e.rec.Last) > t.timeouts[c] {
				r = t.idleReason(e)
			}
			t.end(h, r)
		}
	}
	return false
}

func (t *tracker[K]) unlink(idx int32) {
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
// later of clock time at (rounded up to a tick) and the current tail's
// stamp, so the list stays ordered and a stamp is never earlier than the
// flow's last packet.
func (t *tracker[K]) pushBack(idx int32, at int64) {
	e := t.flows.at(idx)
	l := &t.lists[e.rec.class]
	stamp := ceilTicks(at)
	e.prev, e.next = l.tail, none
	if l.tail != none {
		tail := t.flows.at(l.tail)
		tail.next = idx
		if int32(tail.rec.linkedAt-stamp) > 0 {
			stamp = tail.rec.linkedAt
		}
	} else {
		l.head = idx
	}
	l.tail = idx
	e.rec.linkedAt = stamp
}

// missedAll reports whether a TCP connection that carried no payload
// sent bytes anyway, acknowledged by its peer or before its FIN (what
// reassembler.finish declares a gap).
func (t *tracker[K]) missedAll(tcp *tcpState) bool {
	for s := range tcp {
		me := &tcp[s]
		if !me.haveSeq || max(me.acked(), me.top()) <= me.start()+1 {
			continue
		}
		last := me.acked()
		if me.fin {
			last = me.top() - 1
		}
		if last > me.start()+1 {
			return true
		}
	}
	return false
}
