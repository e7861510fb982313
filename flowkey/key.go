package flowkey

import "encoding/binary"

// FiveTuple is a bidirectional transport flow key: the two endpoints in
// canonical order (lower address and port first), and the protocol. Both
// directions of a conversation give the same FiveTuple. For ICMP and
// ICMPv6 the ports are the message type and its counterpart type (or code,
// for one-way messages), so an echo request and its reply share a key.
type FiveTuple struct {
	Lo, Hi         Addr
	LoPort, HiPort uint16
	Proto          uint8
	// pad is always zero. It is a named field, not a blank one, so that
	// the struct is plain memory: == compiles to one memory comparison
	// instead of a field-by-field function, which the flow table's
	// lookup pays on every packet.
	pad [3]byte
}

// FiveTupleOf returns the 5-tuple key of a decoded packet and whether the
// packet travels from the key's Lo endpoint to its Hi endpoint.
func FiveTupleOf(d *Decoded) (k FiveTuple, forward bool) {
	forward = k.set(d)
	return k, forward
}

// set fills k from d and reports whether d travels from Lo to Hi.
func (k *FiveTuple) set(d *Decoded) bool {
	sp, dp := d.SrcPort, d.DstPort
	if d.Proto == ProtoICMP || d.Proto == ProtoICMPv6 {
		sp, dp, _ = ICMPPorts(d.Proto, uint8(sp), uint8(dp))
	}
	k.Proto, k.pad = d.Proto, [3]byte{}
	if c := d.Src.Compare(d.Dst); c < 0 || (c == 0 && sp <= dp) {
		k.Lo, k.Hi, k.LoPort, k.HiPort = d.Src, d.Dst, sp, dp
		return true
	}
	k.Lo, k.Hi, k.LoPort, k.HiPort = d.Dst, d.Src, dp, sp
	return false
}

// Addrs returns the two addresses, the lower first: the source of the
// key's forward direction, then its destination.
func (k *FiveTuple) Addrs() (lo, hi Addr) { return k.Lo, k.Hi }

// Hash returns a deterministic hash of k. Because k is canonical, both
// directions of a flow hash alike, which is what sharding by flow needs.
// The words are multiplied independently and summed, then mixed once, so
// the multiplications overlap instead of forming one long chain.
func (k FiveTuple) Hash() uint64 {
	h := binary.LittleEndian.Uint64(k.Lo[0:8])*0x9e3779b97f4a7c15 +
		binary.LittleEndian.Uint64(k.Lo[8:16])*0xc2b2ae3d27d4eb4f +
		binary.LittleEndian.Uint64(k.Hi[0:8])*0x165667b19e3779f9 +
		binary.LittleEndian.Uint64(k.Hi[8:16])*0xd6e8feb86659fd93 +
		(uint64(k.LoPort)|uint64(k.HiPort)<<16|uint64(k.Proto)<<32)*0xff51afd7ed558ccd
	return finish(h)
}

// IPPair is a bidirectional key of two IP addresses, any protocol.
type IPPair struct {
	Lo, Hi Addr
}

// IPPairOf returns the IP-pair key of a decoded packet and whether the
// packet travels from Lo to Hi.
func IPPairOf(d *Decoded) (IPPair, bool) {
	if d.Src.Compare(d.Dst) <= 0 {
		return IPPair{d.Src, d.Dst}, true
	}
	return IPPair{d.Dst, d.Src}, false
}

// Addrs returns the two addresses, the lower first.
func (k *IPPair) Addrs() (lo, hi Addr) { return k.Lo, k.Hi }

// Hash returns a deterministic, direction-independent hash of k.
func (k IPPair) Hash() uint64 {
	h := mix(0, binary.LittleEndian.Uint64(k.Lo[0:8]))
	h = mix(h, binary.LittleEndian.Uint64(k.Lo[8:16]))
	h = mix(h, binary.LittleEndian.Uint64(k.Hi[0:8]))
	h = mix(h, binary.LittleEndian.Uint64(k.Hi[8:16]))
	return finish(h)
}

// MACPair is a bidirectional key of two Ethernet addresses.
type MACPair struct {
	Lo, Hi [6]byte
}

// MACPairOf returns the MAC-pair key of a decoded packet and whether the
// packet travels from Lo to Hi.
func MACPairOf(d *Decoded) (MACPair, bool) {
	if string(d.SrcMAC[:]) <= string(d.DstMAC[:]) {
		return MACPair{d.SrcMAC, d.DstMAC}, true
	}
	return MACPair{d.DstMAC, d.SrcMAC}, false
}

// Hash returns a deterministic, direction-independent hash of k.
func (k MACPair) Hash() uint64 {
	var w [16]byte
	copy(w[:6], k.Lo[:])
	copy(w[8:14], k.Hi[:])
	h := mix(0, binary.LittleEndian.Uint64(w[0:8]))
	return finish(mix(h, binary.LittleEndian.Uint64(w[8:16])))
}

func mix(h, w uint64) uint64 {
	h ^= w
	h *= 0x9e3779b97f4a7c15
	return h ^ h>>29
}

func finish(h uint64) uint64 {
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	return h ^ h>>33
}

// icmpPairs and icmp6Pairs list the ICMP message types that come in
// request/response pairs, as the Community ID spec does.
var (
	icmpPairs  = [][2]uint8{{8, 0}, {13, 14}, {15, 16}, {10, 9}, {17, 18}}
	icmp6Pairs = [][2]uint8{{128, 129}, {130, 131}, {133, 134}, {135, 136}, {139, 140}, {144, 145}}
)

// counterpart tables hold counterpart type + 1, zero for one-way types; a
// table lookup keeps ICMP keying free of map hashing on the packet path.
var icmpCounterpart, icmp6Counterpart = pairTable(icmpPairs), pairTable(icmp6Pairs)

func pairTable(pairs [][2]uint8) (t [256]uint16) {
	for _, p := range pairs {
		t[p[0]] = uint16(p[1]) + 1
		t[p[1]] = uint16(p[0]) + 1
	}
	return t
}

// ICMPPorts maps an ICMP or ICMPv6 type and code to the port-like pair
// used for flow keys and Community ID: (type, counterpart type) for
// request/response messages, (type, code) for one-way ones.
func ICMPPorts(proto, typ, code uint8) (sport, dport uint16, oneWay bool) {
	t := &icmpCounterpart
	if proto == ProtoICMPv6 {
		t = &icmp6Counterpart
	}
	if c := t[typ]; c != 0 {
		return uint16(typ), c - 1, false
	}
	return uint16(typ), uint16(code), true
}

// FiveTupleExtractor keys flows by the bidirectional 5-tuple. It
// satisfies flowscope.Extractor[FiveTuple].
type FiveTupleExtractor struct{}

// Extract fills k with the 5-tuple of d; ok is false for non-IP packets
// and for fragments, whose ports are unknown.
func (FiveTupleExtractor) Extract(d *Decoded, k *FiveTuple) (forward, ok bool) {
	if d.IPVersion == 0 || d.Fragment {
		return false, false
	}
	return k.set(d), true
}

// IPPairExtractor keys flows by the pair of IP addresses.
type IPPairExtractor struct{}

// Extract fills k with the IP pair of d; ok is false for non-IP packets.
func (IPPairExtractor) Extract(d *Decoded, k *IPPair) (forward, ok bool) {
	if d.IPVersion == 0 {
		return false, false
	}
	*k, forward = IPPairOf(d)
	return forward, true
}

// MACPairExtractor keys flows by the pair of Ethernet addresses.
type MACPairExtractor struct{}

// Extract fills k with the MAC pair of d; ok is false when the link layer
// carried no source address.
func (MACPairExtractor) Extract(d *Decoded, k *MACPair) (forward, ok bool) {
	if d.SrcMAC == ([6]byte{}) {
		return false, false
	}
	*k, forward = MACPairOf(d)
	return forward, true
}

// PairHash returns a direction-independent hash of the outermost IP
// addresses of a decoded packet: the tunnel's when it came through a UDP
// tunnel, else its own. Sharding by it keeps together everything one
// 5-tuple flow needs: its fragments (which carry no ports) and, for
// tunnelled flows, the tunnel's own conversation. ok is false for packets
// without IP.
func PairHash(d *Decoded) (h uint64, ok bool) {
	src, dst := d.Src, d.Dst
	if d.Tunnel.Kind != NoTunnel {
		src, dst = d.Tunnel.Src, d.Tunnel.Dst
	} else if d.IPVersion == 0 {
		return 0, false
	}
	if src.Compare(dst) > 0 {
		src, dst = dst, src
	}
	return IPPair{src, dst}.Hash(), true
}
