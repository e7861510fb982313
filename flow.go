package flowscope

import "github.com/flowscope-go/flowscope/flowkey"

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

// entry is one flow in the table: its key, its place in its class list,
// and its record. The fields touched by every packet come first, so that
// a packet touches as few cache lines of its flow as possible.
type entry[K Key] struct {
	key        K
	prev, next int32
	rec        flowCore
}

// flowCore is what the tracker keeps of a flow while the flow is open:
// the FlowRecord handed out is built from it (tracker.record), with what
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
	// bits 8-14; bit 7 is seenAsked; bit 15 (seenOrigIsFwd) says that
	// the originator sends in
	// the key's forward direction.
	seen  uint16
	class uint8
	Proto uint8
	// sid is 1 + the index of the flow's handler state in the tracker's
	// slots (a TCP connection's streams, a UDP flow's datagram handler);
	// 0 when it has none. An index, not a pointer, keeps entries free of
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

const (
	seenOrigIsFwd = 1 << 15
	// seenAsked (bit 7) says that the flow's stream handler was asked
	// for (see tracker.askStream).
	seenAsked = 1 << 7
)

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

// letters records the once-per-side letters in bits, which side s has
// not shown before.
func (c *flowCore) letters(s Side, bits uint16) {
	c.seen |= bits << (8 * s)
	for i, l := range letterOfBit {
		if bits&(1<<i) != 0 {
			c.History.add(caseFor(s, l))
		}
	}
}

// letter records one once-per-side letter.
func (c *flowCore) letter(s Side, bit uint16) {
	if c.seenBy(s)&bit == 0 {
		c.letters(s, bit)
	}
}

// countLetter records a repeating letter the 1st, 10th, 100th ... time,
// as Zeek does for retransmissions, zero windows and gaps.
func (c *flowCore) countLetter(s Side, l byte, n *uint32) { c.countLetterAt(s, l, n, -1) }

// countLetterAt is countLetter putting the letter, if one is due, at
// position at of the history (-1: at its end), for an event noticed
// earlier than it is counted.
func (c *flowCore) countLetterAt(s Side, l byte, n *uint32, at int) {
	*n++
	for t := uint32(1); t <= *n; t *= 10 {
		if t == *n {
			if at >= 0 {
				c.History.insert(at, caseFor(s, l))
			} else {
				c.History.add(caseFor(s, l))
			}
			return
		}
		if t > 1e8 {
			return
		}
	}
}

func caseFor(s Side, c byte) byte {
	if s == Resp && c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

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
