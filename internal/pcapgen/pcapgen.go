// Package pcapgen builds synthetic Ethernet frames and pcap files for
// tests and benchmarks: TCP connections with handshakes, data and
// teardown, UDP exchanges, and random mixes of them. Frames are well
// formed (lengths right, checksums zero); they are for exercising flow
// tracking, not for replay onto a network.
package pcapgen

import (
	"encoding/binary"
	"io"
	"math/rand/v2"
	"net/netip"
	"slices"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// TCP flag bits.
const (
	FIN = 0x01
	SYN = 0x02
	RST = 0x04
	PSH = 0x08
	ACK = 0x10
)

// Packet is one generated frame with its capture time.
type Packet struct {
	TS   time.Time
	Data []byte
}

var (
	macA = []byte{0x02, 0, 0, 0, 0, 0x0a}
	macB = []byte{0x02, 0, 0, 0, 0, 0x0b}
)

// ipHeader returns an Ethernet + IP header for a transport segment of n
// bytes.
func ipHeader(src, dst netip.Addr, proto uint8, n int) []byte {
	var b []byte
	b = append(b, macB...)
	b = append(b, macA...)
	if src.Is4() {
		b = append(b, 0x08, 0x00)
		h := make([]byte, 20)
		h[0] = 0x45
		binary.BigEndian.PutUint16(h[2:], uint16(20+n))
		h[6] = 0x40 // DF
		h[8] = 64
		h[9] = proto
		s4, d4 := src.As4(), dst.As4()
		copy(h[12:], s4[:])
		copy(h[16:], d4[:])
		return append(b, h...)
	}
	b = append(b, 0x86, 0xdd)
	h := make([]byte, 40)
	h[0] = 0x60
	binary.BigEndian.PutUint16(h[4:], uint16(n))
	h[6] = proto
	h[7] = 64
	s16, d16 := src.As16(), dst.As16()
	copy(h[8:], s16[:])
	copy(h[24:], d16[:])
	return append(b, h...)
}

// TCP returns an Ethernet frame carrying one TCP segment.
func TCP(src, dst netip.AddrPort, seq, ack uint32, flags uint8, payload []byte) []byte {
	b := ipHeader(src.Addr(), dst.Addr(), 6, 20+len(payload))
	h := make([]byte, 20)
	binary.BigEndian.PutUint16(h[0:], src.Port())
	binary.BigEndian.PutUint16(h[2:], dst.Port())
	binary.BigEndian.PutUint32(h[4:], seq)
	binary.BigEndian.PutUint32(h[8:], ack)
	h[12] = 5 << 4
	h[13] = flags
	binary.BigEndian.PutUint16(h[14:], 65535)
	b = append(b, h...)
	return append(b, payload...)
}

// UDP returns an Ethernet frame carrying one UDP datagram.
func UDP(src, dst netip.AddrPort, payload []byte) []byte {
	b := ipHeader(src.Addr(), dst.Addr(), 17, 8+len(payload))
	h := make([]byte, 8)
	binary.BigEndian.PutUint16(h[0:], src.Port())
	binary.BigEndian.PutUint16(h[2:], dst.Port())
	binary.BigEndian.PutUint16(h[4:], uint16(8+len(payload)))
	b = append(b, h...)
	return append(b, payload...)
}

// Conn describes a TCP connection to generate.
type Conn struct {
	Client, Server netip.AddrPort
	Start          time.Time
	// Exchanges is the number of request/response pairs.
	Exchanges int
	// ReqSize and RespSize are payload sizes; responses larger than MSS
	// are split into several segments.
	ReqSize, RespSize int
	// Gap is the time between packets.
	Gap time.Duration
	// Reset ends the connection with a RST from the server instead of FINs.
	Reset bool
}

// MSS is the largest payload per generated segment.
const MSS = 1448

// TCPConn returns the packets of a full connection: handshake, request /
// response exchanges, and FIN (or RST) teardown.
func TCPConn(c Conn) []Packet {
	var out []Packet
	ts := c.Start
	gap := c.Gap
	if gap == 0 {
		gap = time.Millisecond
	}
	add := func(data []byte) {
		out = append(out, Packet{TS: ts, Data: data})
		ts = ts.Add(gap)
	}
	cs, ss := uint32(1000), uint32(50000)
	add(TCP(c.Client, c.Server, cs, 0, SYN, nil))
	add(TCP(c.Server, c.Client, ss, cs+1, SYN|ACK, nil))
	cs++
	ss++
	add(TCP(c.Client, c.Server, cs, ss, ACK, nil))
	req := make([]byte, c.ReqSize)
	resp := make([]byte, c.RespSize)
	for i := range c.Exchanges {
		for j := range req {
			req[j] = byte('a' + (i+j)%26)
		}
		add(TCP(c.Client, c.Server, cs, ss, PSH|ACK, req))
		cs += uint32(len(req))
		for off := 0; off < len(resp); off += MSS {
			seg := resp[off:min(off+MSS, len(resp))]
			add(TCP(c.Server, c.Client, ss, cs, PSH|ACK, seg))
			ss += uint32(len(seg))
		}
		add(TCP(c.Client, c.Server, cs, ss, ACK, nil))
	}
	if c.Reset {
		add(TCP(c.Server, c.Client, ss, cs, RST|ACK, nil))
		return out
	}
	add(TCP(c.Client, c.Server, cs, ss, FIN|ACK, nil))
	add(TCP(c.Server, c.Client, ss, cs+1, FIN|ACK, nil))
	add(TCP(c.Client, c.Server, cs+1, ss+1, ACK, nil))
	return out
}

// UDPExchange returns n query/response datagram pairs.
func UDPExchange(client, server netip.AddrPort, start time.Time, n, qsize, rsize int) []Packet {
	var out []Packet
	ts := start
	for range n {
		out = append(out, Packet{TS: ts, Data: UDP(client, server, make([]byte, qsize))})
		ts = ts.Add(500 * time.Microsecond)
		out = append(out, Packet{TS: ts, Data: UDP(server, client, make([]byte, rsize))})
		ts = ts.Add(10 * time.Millisecond)
	}
	return out
}

// Random returns a capture of nflows random TCP and UDP flows (IPv4 and
// IPv6) over span, merged in time order. The same rng state gives the
// same capture.
func Random(rng *rand.Rand, nflows int, span time.Duration) []Packet {
	base := time.Unix(1_700_000_000, 0).UTC()
	var all []Packet
	for i := range nflows {
		start := base.Add(time.Duration(rng.Int64N(int64(span))))
		var cli, srv netip.Addr
		if rng.IntN(4) == 0 {
			cli = netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 15: byte(rng.IntN(50))})
			srv = netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 14: 1, 15: byte(rng.IntN(5))})
		} else {
			cli = netip.AddrFrom4([4]byte{10, 0, byte(rng.IntN(4)), byte(rng.IntN(250))})
			srv = netip.AddrFrom4([4]byte{192, 168, 1, byte(rng.IntN(5))})
		}
		client := netip.AddrPortFrom(cli, uint16(1024+rng.IntN(60000)))
		switch rng.IntN(3) {
		case 0:
			all = append(all, UDPExchange(client, netip.AddrPortFrom(srv, 53), start, 1+rng.IntN(3), 40, 120)...)
		default:
			all = append(all, TCPConn(Conn{
				Client: client, Server: netip.AddrPortFrom(srv, []uint16{80, 443, 8080}[rng.IntN(3)]),
				Start: start, Exchanges: 1 + rng.IntN(4), ReqSize: 50 + rng.IntN(400),
				RespSize: rng.IntN(5000), Gap: time.Duration(1+rng.IntN(2000)) * time.Millisecond,
				Reset: rng.IntN(8) == 0,
			})...)
		}
		_ = i
	}
	slices.SortStableFunc(all, func(a, b Packet) int { return a.TS.Compare(b.TS) })
	return all
}

// WritePcap writes packets as a nanosecond pcap file with Ethernet links.
func WritePcap(w io.Writer, pkts []Packet) error {
	pw := pcapgo.NewWriterNanos(w)
	if err := pw.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		return err
	}
	for _, p := range pkts {
		ci := gopacket.CaptureInfo{Timestamp: p.TS, CaptureLength: len(p.Data), Length: len(p.Data)}
		if err := pw.WritePacket(ci, p.Data); err != nil {
			return err
		}
	}
	return nil
}

// Fragments splits the IPv4 datagram of an Ethernet frame (no IP options)
// into fragments of size payload bytes (a multiple of 8) with
// identification id, each a frame of its own.
func Fragments(frame []byte, size int, id uint16) [][]byte {
	ip := frame[14:]
	hdr, payload := ip[:20], ip[20:]
	var out [][]byte
	for off := 0; off < len(payload); off += size {
		end := min(off+size, len(payload))
		h := append([]byte(nil), hdr...)
		binary.BigEndian.PutUint16(h[2:], uint16(20+end-off))
		binary.BigEndian.PutUint16(h[4:], id)
		fo := uint16(off / 8)
		if end < len(payload) {
			fo |= 0x2000 // more fragments
		}
		binary.BigEndian.PutUint16(h[6:], fo)
		out = append(out, append(append(append([]byte(nil), frame[:14]...), h...), payload[off:end]...))
	}
	return out
}
