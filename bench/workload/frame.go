package main

import (
	"encoding/binary"
	"net/netip"
)

// TCP flag bits.
const (
	fin = 0x01
	syn = 0x02
	rst = 0x04
	psh = 0x08
	ack = 0x10
)

var (
	clientMAC = [6]byte{0x3c, 0x22, 0xfb, 0x10, 0x20, 0x30}
	routerMAC = [6]byte{0x00, 0x1b, 0x21, 0xaa, 0xbb, 0xcc}
)

// frame builds an Ethernet frame around an IP packet carrying a transport
// header th and payload, with correct IP and transport checksums; ipID is
// the IPv4 identification.
func frame(src, dst netip.Addr, proto uint8, ipID uint16, th, payload []byte) []byte {
	n := len(th) + len(payload)
	var b []byte
	if src.Is4() {
		b = make([]byte, 14+20, 14+20+n)
		b[12], b[13] = 0x08, 0x00
		h := b[14:]
		h[0] = 0x45
		binary.BigEndian.PutUint16(h[2:], uint16(20+n))
		binary.BigEndian.PutUint16(h[4:], ipID)
		h[6] = 0x40 // don't fragment
		h[8] = 64
		h[9] = proto
		s, d := src.As4(), dst.As4()
		copy(h[12:], s[:])
		copy(h[16:], d[:])
		binary.BigEndian.PutUint16(h[10:], ^fold(sum(h[:20], 0)))
	} else {
		b = make([]byte, 14+40, 14+40+n)
		b[12], b[13] = 0x86, 0xdd
		h := b[14:]
		h[0] = 0x60
		binary.BigEndian.PutUint16(h[4:], uint16(n))
		h[6] = proto
		h[7] = 64
		s, d := src.As16(), dst.As16()
		copy(h[8:], s[:])
		copy(h[24:], d[:])
	}
	if isClient(src) {
		copy(b[0:6], routerMAC[:])
		copy(b[6:12], clientMAC[:])
	} else {
		copy(b[0:6], clientMAC[:])
		copy(b[6:12], routerMAC[:])
	}
	start := len(b)
	b = append(b, th...)
	b = append(b, payload...)
	// The pseudo-header, then the transport header and payload.
	var s uint32
	if src.Is4() {
		sa, da := src.As4(), dst.As4()
		s = sum(sa[:], s)
		s = sum(da[:], s)
	} else {
		sa, da := src.As16(), dst.As16()
		s = sum(sa[:], s)
		s = sum(da[:], s)
	}
	s += uint32(proto) + uint32(n)
	s = sum(b[start:], s)
	ck := ^fold(s)
	if proto == 17 && ck == 0 {
		ck = 0xffff
	}
	off := 16 // TCP checksum
	if proto == 17 {
		off = 6
	}
	binary.BigEndian.PutUint16(b[start+off:], ck)
	return b
}

// sum adds b to a ones' complement sum in progress.
func sum(b []byte, s uint32) uint32 {
	for len(b) >= 2 {
		s += uint32(b[0])<<8 | uint32(b[1])
		b = b[2:]
	}
	if len(b) == 1 {
		s += uint32(b[0]) << 8
	}
	return s
}

func fold(s uint32) uint16 {
	for s > 0xffff {
		s = s&0xffff + s>>16
	}
	return uint16(s)
}

// tcpHeader returns a TCP header; a SYN carries the options a Linux
// client or server sends (MSS, SACK permitted, window scale).
func tcpHeader(src, dst uint16, seq, ackn uint32, flags uint8, win uint16) []byte {
	n := 20
	if flags&syn != 0 {
		n = 32
	}
	h := make([]byte, n)
	binary.BigEndian.PutUint16(h[0:], src)
	binary.BigEndian.PutUint16(h[2:], dst)
	binary.BigEndian.PutUint32(h[4:], seq)
	binary.BigEndian.PutUint32(h[8:], ackn)
	h[12] = byte(n/4) << 4
	h[13] = flags
	binary.BigEndian.PutUint16(h[14:], win)
	if flags&syn != 0 {
		copy(h[20:], []byte{2, 4, 0x05, 0xb4, 4, 2, 1, 1, 1, 3, 3, 7}) // MSS 1460, SACK ok, NOP, NOP, NOP, wscale 7
	}
	return h
}

func udpHeader(src, dst uint16, n int) []byte {
	h := make([]byte, 8)
	binary.BigEndian.PutUint16(h[0:], src)
	binary.BigEndian.PutUint16(h[2:], dst)
	binary.BigEndian.PutUint16(h[4:], uint16(8+n))
	return h
}

// isClient reports whether a is on the capture's client side (10/8 or
// fd00::/8).
func isClient(a netip.Addr) bool {
	if a.Is4() {
		return a.As4()[0] == 10
	}
	return a.As16()[0] == 0xfd
}
