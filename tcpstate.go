package flowscope

import "github.com/flowscope-go/flowscope/flowkey"

// endpointState is the TCP state of one side, after Zeek's endpoint states.
type endpointState uint8

const (
	tcpInactive endpointState = iota
	tcpSynSent
	tcpSynAckSent
	tcpPartial
	tcpEstablished
	tcpClosed
	tcpReset
)

// History letters, in the originator's (upper) case.
const (
	histSYN     = 'S'
	histSYNACK  = 'H'
	histACK     = 'A'
	histData    = 'D'
	histFIN     = 'F'
	histRST     = 'R'
	histRetrans = 'T'
	histZeroWin = 'W'
	histMulti   = 'Q'
	histFlipped = '^'
	histGap     = 'G'
)

// sideState is the per-side state the tracker keeps beyond SideStats.
// It packs in 28 bytes (a flow's two sides in 56, a whole number of the
// TCP store's pages): top in two 32-bit words, acked as the low 32 bits
// of a number kept near top.
type sideState struct {
	// Sequence space, unwrapped to 64 bits: top (topHi, topLo) is the
	// highest sequence number reached (data and FIN); acked (ackedSeq)
	// is the highest peer acknowledgement, at most 2^30 above top and
	// raised to stay less than 2^31 below it (only a side that sends 2
	// GiB with no acknowledgement seen comes near); start (from isn) is
	// the sequence number before the first data byte.
	topLo, topHi uint32
	ackedSeq     uint32
	// isn is the 32-bit sequence number before the first data byte: the
	// SYN's, or one less than the first seen.
	isn uint32
	// rxmit and zeroWin count events whose letters repeat on a log scale.
	rxmit, zeroWin uint32
	state, prev    endpointState
	haveSeq        bool
	fin            bool // the side sent a FIN
}

// start is isn in the 64-bit sequence space, with 2^32 of headroom below
// it so that data just before the start stays positive.
func (st *sideState) start() uint64 { return uint64(st.isn) + 1<<32 }

func (st *sideState) top() uint64 { return uint64(st.topHi)<<32 | uint64(st.topLo) }

// setTop moves top to v, raising acked if it would fall 2^31 or more
// behind.
func (st *sideState) setTop(v uint64) {
	a := st.acked()
	st.topLo, st.topHi = uint32(v), uint32(v>>32)
	if int64(v-a) >= 1<<31 {
		st.ackedSeq = uint32(v - (1<<31 - 1))
	}
}

func (st *sideState) acked() uint64 { return unwrap(st.top(), st.ackedSeq) }

// setAcked sets acked to v, which must be within 2^31 of top.
func (st *sideState) setAcked(v uint64) { st.ackedSeq = uint32(v) }

// Bits of flowCore.seen, one per once-per-side letter, in the order
// Zeek writes letters caused by the same packet.
const (
	bitMulti uint16 = 1 << iota
	bitSYN
	bitSYNACK
	bitFIN
	bitRST
	bitData
	bitACK
	numLetterBits = iota
)

var letterOfBit = [numLetterBits]byte{histMulti, histSYN, histSYNACK, histFIN, histRST, histData, histACK}

// unwrap maps a 32-bit sequence number to the 64-bit space near ref.
func unwrap(ref uint64, seq uint32) uint64 {
	return uint64(int64(ref) + int64(int32(seq-uint32(ref))))
}

// trackTCP updates state, history and sequence accounting for one TCP
// packet sent by side s. It follows Zeek's endpoint state machine closely
// enough that conn_state agrees on ordinary traffic. It returns the
// absolute sequence number (see sideState) of the payload's first byte.
func (c *flowCore) trackTCP(tcp *tcpState, s Side, d *flowkey.Decoded) (payloadAt uint64) {
	me, peer := &tcp[s], &tcp[s.Other()]
	f := d.Flags
	syn, ack, fin, rst := f&flowkey.FlagSYN != 0, f&flowkey.FlagACK != 0, f&flowkey.FlagFIN != 0, f&flowkey.FlagRST != 0

	// History: collect this packet's once-per-side letters as bits, and
	// take the slow path only for letters not seen before on this side.
	var want uint16
	if syn {
		if fin || rst {
			want |= bitMulti
		}
		if ack {
			want |= bitSYNACK
		} else {
			want |= bitSYN
		}
	}
	if fin {
		want |= bitFIN
	}
	if rst {
		want |= bitRST
	}
	if d.PayloadLen > 0 {
		want |= bitData
	} else if ack && !syn && !fin && !rst {
		want |= bitACK
	}
	if fresh := want &^ c.seenBy(s); fresh != 0 {
		c.letters(s, fresh)
	}
	if d.Window == 0 && !syn && !fin && !rst {
		c.countLetter(s, histZeroWin, &me.zeroWin)
	}

	// Sequence space.
	seq := d.Seq
	if !me.haveSeq {
		me.haveSeq = true
		if syn {
			me.isn = seq
		} else {
			me.isn = seq - 1 // as if a SYN preceded it
		}
		me.setTop(me.start())
		me.setAcked(me.top())
	}
	abs := unwrap(me.top(), seq)
	payloadAt = abs
	if syn {
		payloadAt++ // data on a SYN follows the SYN's octet
	}
	end := payloadAt + uint64(d.PayloadLen)
	if fin {
		end++
		me.fin = true
	}
	if d.PayloadLen > 0 && end <= me.top() && payloadAt > me.start() {
		c.countLetter(s, histRetrans, &me.rxmit)
	}
	if end > me.top() {
		me.setTop(end)
	}
	if ack && peer.haveSeq {
		peerTop := peer.top()
		if a := unwrap(peerTop, d.Ack); a > peer.acked() && a <= peerTop+1<<30 {
			peer.setAcked(a)
		}
	}

	// Endpoint state machine. A plain segment between established
	// endpoints changes nothing: the common case returns here.
	if f&(flowkey.FlagSYN|flowkey.FlagFIN|flowkey.FlagRST) == 0 && me.state == tcpEstablished {
		return payloadAt
	}
	me.prev = me.state
	switch me.state {
	case tcpInactive:
		if syn {
			if s == Orig {
				if ack {
					me.state = tcpSynAckSent
				} else {
					me.state = tcpSynSent
				}
			} else {
				if peer.state == tcpSynSent {
					peer.state = tcpEstablished
				}
				me.state = tcpEstablished
			}
		}
		if fin {
			me.state = tcpClosed
		}
		if rst {
			me.state = tcpReset
		}
		if me.state == tcpInactive {
			switch {
			case s == Resp && d.PayloadLen == 0 && peer.state == tcpSynSent:
				// An ACK of a SYN before the SYN-ACK: not a partial connection.
			case ack && peer.state == tcpEstablished:
				me.state = tcpEstablished // the SYN was missed, the rest is normal
			default:
				me.state = tcpPartial
			}
		}
	case tcpSynSent, tcpSynAckSent:
		if fin {
			me.state = tcpClosed
		}
		if rst {
			me.state = tcpReset
		}
	case tcpEstablished, tcpPartial:
		if syn && !ack && me.state == tcpPartial && peer.state == tcpInactive {
			me.state = tcpSynSent
		}
		if fin && !rst {
			me.state = tcpClosed
			if peer.state == tcpReset && peer.prev == tcpClosed {
				peer.state = tcpClosed // FIN then RST from the peer: a normal close
			}
		}
		if rst {
			me.state = tcpReset
		}
	case tcpClosed:
		if rst && peer.state != tcpClosed {
			me.state = tcpReset
		}
	}
	return payloadAt
}

// size returns Zeek's byte count for a side: the sequence space used,
// without the SYN and FIN octets.
func (st *sideState) size() uint64 {
	if !st.haveSeq {
		return 0
	}
	top := max(st.top(), st.acked())
	n := top - st.start()
	if n > 0 {
		n-- // the SYN octet (real or assumed)
	}
	if st.fin && n > 0 {
		n--
	}
	return n
}

// tcpConnState derives Zeek's conn_state from the two endpoint states.
func tcpConnState(o, r *sideState, sizesZero bool, h *History) ConnState {
	os, rs := o.state, r.state
	oInactive := os == tcpInactive || os == tcpPartial
	rInactive := rs == tcpInactive || rs == tcpPartial
	switch {
	case rs == tcpReset:
		switch {
		case os == tcpSynSent || os == tcpSynAckSent || (os == tcpReset && sizesZero):
			return StateREJ
		case oInactive:
			return StateRSTRH
		}
		return StateRSTR
	case os == tcpReset:
		if rInactive {
			if synThenRST(h) {
				return StateRSTOS0
			}
			return StateOTH
		}
		return StateRSTO
	case rs == tcpClosed && os == tcpClosed:
		return StateSF
	case os == tcpClosed:
		if rInactive {
			return StateSH
		}
		return StateS2
	case rs == tcpClosed:
		if oInactive {
			return StateSHR
		}
		return StateS3
	case os == tcpSynSent && rs == tcpInactive:
		return StateS0
	case os == tcpEstablished && rs == tcpEstablished:
		return StateS1
	}
	return StateOTH
}

// synThenRST matches Zeek's /^\^?S[^HAFGIQ]*R.*/ on the history.
func synThenRST(h *History) bool {
	var buf [maxHistory]byte
	b := h.AppendTo(buf[:0])
	if len(b) > 0 && b[0] == histFlipped {
		b = b[1:]
	}
	if len(b) == 0 || b[0] != 'S' {
		return false
	}
	for _, c := range b[1:] {
		switch c {
		case 'R':
			return true
		case 'H', 'A', 'F', 'G', 'I', 'Q':
			return false
		}
	}
	return false
}
