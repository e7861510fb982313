package flowkey

import (
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
)

// CommunityID computes Community ID v1 flow hashes (Corelight's spec).
// The zero value uses seed 0 and base64 output, the spec's defaults.
type CommunityID struct {
	// Seed is mixed into the hash so that sites can keep ids apart.
	Seed uint16
	// Hex selects a hex digest instead of base64.
	Hex bool
}

// AppendTo appends the Community ID of one packet direction (or flow
// originator direction) to b: "1:" and the digest. For ICMP and ICMPv6,
// sport and dport are the message type and code.
func (c CommunityID) AppendTo(b []byte, proto uint8, src, dst Addr, sport, dport uint16) []byte {
	oneWay := false
	if proto == ProtoICMP || proto == ProtoICMPv6 {
		sport, dport, oneWay = ICMPPorts(proto, uint8(sport), uint8(dport))
	}
	hasPorts := proto == ProtoTCP || proto == ProtoUDP || proto == ProtoICMP ||
		proto == ProtoICMPv6 || proto == 132 // SCTP
	if !oneWay {
		if cmp := src.Compare(dst); cmp > 0 || (cmp == 0 && sport > dport) {
			src, dst, sport, dport = dst, src, dport, sport
		}
	}
	// seed(2) saddr daddr proto(1) pad(1) sport(2) dport(2): at most 40 bytes.
	var buf [40]byte
	in := binary.BigEndian.AppendUint16(buf[:0], c.Seed)
	in = append(in, src.Bytes()...)
	in = append(in, dst.Bytes()...)
	in = append(in, proto, 0)
	if hasPorts {
		in = binary.BigEndian.AppendUint16(in, sport)
		in = binary.BigEndian.AppendUint16(in, dport)
	}
	sum := sha1.Sum(in)
	b = append(b, "1:"...)
	if c.Hex {
		return hex.AppendEncode(b, sum[:])
	}
	return base64.StdEncoding.AppendEncode(b, sum[:])
}

// String returns the Community ID of the given flow tuple.
func (c CommunityID) String(proto uint8, src, dst Addr, sport, dport uint16) string {
	return string(c.AppendTo(nil, proto, src, dst, sport, dport))
}
