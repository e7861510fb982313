package flowkey

import (
	"encoding/binary"
	"net/netip"
)

// Addr is an IPv4 or IPv6 address as 16 bytes, IPv4 in IPv4-mapped form
// (::ffff:a.b.c.d). Unlike netip.Addr it is pointer-free and comparable
// byte for byte, so keys built from it hash and compare as plain memory.
type Addr [16]byte

// v4Prefix is the IPv4-mapped IPv6 prefix; v4Mapped is 0.0.0.0 mapped.
var (
	v4Prefix = [12]byte{10: 0xff, 11: 0xff}
	v4Mapped = Addr{10: 0xff, 11: 0xff}
)

// AddrFrom4 returns the Addr of an IPv4 address.
func AddrFrom4(a [4]byte) Addr {
	var r Addr
	copy(r[:12], v4Prefix[:])
	copy(r[12:], a[:])
	return r
}

// AddrFromNetip converts a netip.Addr (zone dropped).
func AddrFromNetip(a netip.Addr) Addr {
	if a.Is4() {
		return AddrFrom4(a.As4())
	}
	return Addr(a.As16())
}

// Is4 reports whether a is an IPv4-mapped address.
func (a Addr) Is4() bool { return [12]byte(a[:12]) == v4Prefix }

// Netip returns a as a netip.Addr, IPv4 unmapped.
func (a Addr) Netip() netip.Addr {
	if a.Is4() {
		return netip.AddrFrom4([4]byte(a[12:]))
	}
	return netip.AddrFrom16(a)
}

// Bytes returns the address in its native length: 4 bytes for IPv4,
// 16 for IPv6. The slice aliases a.
func (a *Addr) Bytes() []byte {
	if a.Is4() {
		return a[12:]
	}
	return a[:]
}

// AppendTo appends the RFC 5952 text form of a to b.
func (a Addr) AppendTo(b []byte) []byte { return a.Netip().AppendTo(b) }

// String returns the RFC 5952 text form of a.
func (a Addr) String() string { return a.Netip().String() }

// Compare orders addresses by their bytes. It compares two 64-bit words
// rather than calling bytes.Compare: this sits on the per-packet path of
// every 5-tuple key.
func (a Addr) Compare(b Addr) int {
	ah, bh := binary.BigEndian.Uint64(a[:8]), binary.BigEndian.Uint64(b[:8])
	if ah != bh {
		if ah < bh {
			return -1
		}
		return 1
	}
	al, bl := binary.BigEndian.Uint64(a[8:]), binary.BigEndian.Uint64(b[8:])
	switch {
	case al < bl:
		return -1
	case al > bl:
		return 1
	}
	return 0
}
