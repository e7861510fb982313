package main

import (
	"math/rand/v2"
	"net/netip"
	"slices"
)

// pkt is one frame and the time, in nanoseconds, the capture saw it.
type pkt struct {
	ts   int64
	data []byte
}

// mss is the payload of a full segment on a 1,500-byte MTU path with the
// timestamp option off.
const mss = 1460

// Impairment rates per data segment, as fractions. Together about 4% of
// data segments are touched, the "few percent" of a busy access link.
var impair = struct {
	late, dup, miss, swap float64
}{
	late: 0.010, // lost before the capture point and retransmitted: seen one RTT late, after later segments
	dup:  0.015, // lost after the capture point: seen twice, the retransmission one RTO later
	miss: 0.003, // dropped by the capture itself: never seen, yet acknowledged
	swap: 0.010, // reordered with the next segment
}

// tcpConn builds the packets of one TCP connection as a capture near the
// server sees them: a client's packet is seen when it arrives, the
// server's when it leaves, so the client's acknowledgements of server
// data come one RTT after it.
type tcpConn struct {
	rng        *rand.Rand
	cli, srv   netip.AddrPort
	rtt        int64 // ns
	gap        int64 // ns between back-to-back segments (serialisation)
	t          int64 // the time the next packet goes out
	cseq, sseq uint32
	cid, sid   uint16 // IPv4 identification counters
	out        []pkt
	impaired   bool
}

func newTCPConn(rng *rand.Rand, cli, srv netip.AddrPort, start int64) *tcpConn {
	c := &tcpConn{rng: rng, cli: cli, srv: srv, t: start,
		rtt:  int64(5e6 + rng.ExpFloat64()*35e6), // 5 ms plus a tail: LAN to intercontinental
		gap:  12_000,                             // 1 Gbit/s
		cseq: rng.Uint32(), sseq: rng.Uint32(),
		cid: uint16(rng.Uint32()), sid: uint16(rng.Uint32()),
		impaired: true,
	}
	return c
}

func (c *tcpConn) emit(ts int64, fromClient bool, seq, ackn uint32, flags uint8, payload []byte) {
	src, dst, id := c.cli, c.srv, &c.cid
	if !fromClient {
		src, dst, id = c.srv, c.cli, &c.sid
	}
	*id++
	th := tcpHeader(src.Port(), dst.Port(), seq, ackn, flags, 502)
	if flags&syn != 0 {
		th = tcpHeader(src.Port(), dst.Port(), seq, ackn, flags, 64240)
	}
	c.out = append(c.out, pkt{ts, frame(src.Addr(), dst.Addr(), 6, *id, th, payload)})
}

// handshake emits SYN, SYN-ACK and ACK.
func (c *tcpConn) handshake() {
	c.emit(c.t, true, c.cseq, 0, syn, nil)
	c.t += 40_000
	c.emit(c.t, false, c.sseq, c.cseq+1, syn|ack, nil)
	c.t += c.rtt
	c.emit(c.t, true, c.cseq+1, c.sseq+1, ack, nil)
	c.cseq++
	c.sseq++
}

// send emits data from one side, segmented at the MSS, with the other
// side's acknowledgements (every second segment, at once for a segment
// out of order) and the impairments; c.t becomes the time the receiver
// has all of it and has acknowledged it.
func (c *tcpConn) send(fromClient bool, data []byte) {
	if len(data) == 0 {
		return
	}
	seq, rseq := &c.sseq, c.cseq
	ackDelay := c.rtt // the client's ACKs of server data cross the path back
	if fromClient {
		seq, rseq = &c.cseq, c.sseq
		ackDelay = 40_000
	}
	base := *seq
	type seg struct {
		off, n  int
		arrival int64 // at the receiver, in capture time
		seen    []int64
	}
	var segs []seg
	for off := 0; off < len(data); off += mss {
		n := min(mss, len(data)-off)
		ts := c.t + int64(len(segs))*c.gap
		segs = append(segs, seg{off: off, n: n, arrival: ts, seen: []int64{ts}})
	}
	if c.impaired {
		for i := range segs {
			r := c.rng.Float64()
			switch {
			case r < impair.late:
				segs[i].arrival += c.rtt + 200_000
				segs[i].seen[0] = segs[i].arrival
			case r < impair.late+impair.dup:
				segs[i].seen = append(segs[i].seen, segs[i].seen[0]+max(c.rtt*5/4, 3_000_000))
			case r < impair.late+impair.dup+impair.miss:
				segs[i].seen = nil
			case r < impair.late+impair.dup+impair.miss+impair.swap && i+1 < len(segs):
				segs[i].arrival, segs[i+1].arrival = segs[i+1].arrival, segs[i].arrival
				segs[i].seen[0], segs[i+1].seen[0] = segs[i+1].seen[0], segs[i].seen[0]
			}
		}
	}
	for i, s := range segs {
		flags := uint8(ack)
		if i == len(segs)-1 || s.off+s.n == len(data) {
			flags |= psh
		}
		for _, ts := range s.seen {
			c.emit(ts, fromClient, base+uint32(s.off), rseq, flags, data[s.off:s.off+s.n])
		}
	}
	// The receiver's acknowledgements, in arrival order.
	order := make([]int, len(segs))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp64(segs[a].arrival, segs[b].arrival) })
	got := make([]bool, len(segs))
	next, unacked := 0, 0
	var last int64
	for _, i := range order {
		got[i] = true
		inOrder := i == next
		for next < len(segs) && got[next] {
			next++
		}
		unacked++
		last = segs[i].arrival
		if unacked >= 2 || !inOrder || next == len(segs) {
			upto := len(data)
			if next < len(segs) {
				upto = segs[next].off
			}
			c.emit(segs[i].arrival+ackDelay, !fromClient, rseq, base+uint32(upto), ack, nil)
			unacked = 0
		}
	}
	*seq = base + uint32(len(data))
	c.t = last + ackDelay
}

// close ends the connection: the client's FIN, the server's FIN-ACK and
// the last ACK, or a RST from the server.
func (c *tcpConn) close(reset bool) {
	if reset {
		c.emit(c.t, false, c.sseq, c.cseq, rst|ack, nil)
		return
	}
	c.emit(c.t, true, c.cseq, c.sseq, fin|ack, nil)
	c.t += 60_000
	c.emit(c.t, false, c.sseq, c.cseq+1, fin|ack, nil)
	c.t += c.rtt
	c.emit(c.t, true, c.cseq+1, c.sseq+1, ack, nil)
}

// packets returns the connection's packets in capture order.
func (c *tcpConn) packets() []pkt {
	slices.SortStableFunc(c.out, func(a, b pkt) int { return cmp64(a.ts, b.ts) })
	return c.out
}

func cmp64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
