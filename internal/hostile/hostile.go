// Package hostile generates the inputs a passive sensor must survive:
// floods, tiny fragments, reordering storms, repeated handshake messages,
// header and pipelining floods, nested encapsulation. Each Class makes
// its input at any scale, so that tests can hold a class to its bounds
// and benchmarks can show its cost a packet stays flat as the input grows
// tenfold and a hundredfold.
package hostile

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/flowscope-go/flowscope/internal/pcapgen"
)

// Class is one kind of hostile input.
type Class struct {
	Name string
	// Gen returns the input at scale n (1, 10, 100, ...): its state grows
	// with n, a flow table, a fragment list, a buffer of segments, a
	// repeated message.
	Gen func(n int) []pcapgen.Packet
}

// Classes returns every class.
func Classes() []Class {
	return []Class{
		{"syn-flood", SYNFlood},
		{"udp-flood", UDPFlood},
		{"tiny-fragments", TinyFragments},
		{"fragment-holes", FragmentHoles},
		{"reverse-segments", ReverseSegments},
		{"tls-repeated-message", TLSRepeatedMessage},
		{"tls-alerts", TLSAlerts},
		{"tls-byte-records", TLSByteRecords},
		{"tls-partial-handshakes", TLSPartialHandshakes},
		{"http-obs-fold", HTTPObsFold},
		{"http-pipeline", HTTPPipeline},
		{"dns-pending", DNSPending},
		{"nested-encapsulation", NestedEncapsulation},
	}
}

// Start is the time of every input's first packet.
var Start = time.Unix(1_800_000_000, 0).UTC()

var (
	server = netip.MustParseAddr("192.0.2.1")
	dnsQ   = []byte("\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x03www\x07example\x03com\x00\x00\x01\x00\x01")
)

// client returns the i-th of many client addresses.
func client(i int) netip.AddrPort {
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), uint16(1024+i%60000))
}

// clock hands out packet times a microsecond apart.
type clock struct{ t time.Time }

func (c *clock) next() time.Time {
	c.t = c.t.Add(time.Microsecond)
	return c.t
}

// SYNFlood is n*1000 SYNs, each from a client of its own (a scan).
func SYNFlood(n int) []pcapgen.Packet {
	ck := clock{Start}
	out := make([]pcapgen.Packet, 0, n*1000)
	for i := range n * 1000 {
		out = append(out, pcapgen.Packet{TS: ck.next(), Data: pcapgen.TCP(client(i), netip.AddrPortFrom(server, 80), 1, 0, pcapgen.SYN, nil)})
	}
	return out
}

// UDPFlood is n*1000 DNS queries, each from a client of its own, none
// answered.
func UDPFlood(n int) []pcapgen.Packet {
	ck := clock{Start}
	out := make([]pcapgen.Packet, 0, n*1000)
	for i := range n * 1000 {
		out = append(out, pcapgen.Packet{TS: ck.next(), Data: pcapgen.UDP(client(i), netip.AddrPortFrom(server, 53), dnsQ)})
	}
	return out
}

// Body returns the payload of datagram or stream i, n bytes long: its
// bytes say where they are, so a reassembly that misplaces any shows.
func Body(i, n int) []byte {
	b := make([]byte, n)
	for j := range b {
		b[j] = byte(i*7 + j*13 + j>>8)
	}
	return b
}

// TinyFragments is n*10 UDP datagrams of 1,472 payload bytes, each cut
// into 8-byte fragments, all interleaved: the first fragment of every
// datagram, then the second of every one, and so on (n*10 datagrams in
// flight at once, the Defragmenter's bound at n = 100).
func TinyFragments(n int) []pcapgen.Packet {
	ck := clock{Start}
	var frags [][][]byte
	for i := range n * 10 {
		whole := pcapgen.UDP(client(i), netip.AddrPortFrom(server, 9), Body(i, 1472))
		frags = append(frags, pcapgen.Fragments(whole, 8, uint16(i)))
	}
	var out []pcapgen.Packet
	for j := range frags[0] {
		for i := range frags {
			out = append(out, pcapgen.Packet{TS: ck.next(), Data: frags[i][j]})
		}
	}
	return out
}

// FragmentHoles is 10 UDP datagrams of n*640 payload bytes (about 64 KB
// at n = 100) cut into 8-byte fragments sent with holes: every other
// fragment first, then the rest in reverse, so that a datagram holds up
// to half its fragments apart before it completes.
func FragmentHoles(n int) []pcapgen.Packet {
	ck := clock{Start}
	size := min(n*640, 65507-8)
	var out []pcapgen.Packet
	for i := range 10 {
		whole := pcapgen.UDP(client(i), netip.AddrPortFrom(server, 9), Body(i, size))
		frags := pcapgen.Fragments(whole, 8, uint16(i))
		for j := 0; j < len(frags); j += 2 {
			out = append(out, pcapgen.Packet{TS: ck.next(), Data: frags[j]})
		}
		for j := len(frags) - 1 - len(frags)%2; j > 0; j -= 2 {
			out = append(out, pcapgen.Packet{TS: ck.next(), Data: frags[j]})
		}
	}
	return out
}

// conn writes one TCP connection's packets: a handshake, then what its
// methods add, then FINs.
type conn struct {
	ck       *clock
	cli, srv netip.AddrPort
	seq      [2]uint32 // next sequence number of client, server
	out      []pcapgen.Packet
}

func newConn(ck *clock, i int, port uint16) *conn {
	c := &conn{ck: ck, cli: client(i), srv: netip.AddrPortFrom(server, port), seq: [2]uint32{1000, 50000}}
	c.add(0, c.seq[0], 0, pcapgen.SYN, nil)
	c.add(1, c.seq[1], c.seq[0]+1, pcapgen.SYN|pcapgen.ACK, nil)
	c.seq[0]++
	c.seq[1]++
	c.add(0, c.seq[0], c.seq[1], pcapgen.ACK, nil)
	return c
}

func (c *conn) add(side int, seq, ack uint32, flags uint8, payload []byte) {
	src, dst := c.cli, c.srv
	if side == 1 {
		src, dst = dst, src
	}
	c.out = append(c.out, pcapgen.Packet{TS: c.ck.next(), Data: pcapgen.TCP(src, dst, seq, ack, flags, payload)})
}

// send sends b from side in full-size segments, in order.
func (c *conn) send(side int, b []byte) {
	for len(b) > 0 {
		seg := b[:min(len(b), pcapgen.MSS)]
		b = b[len(seg):]
		c.add(side, c.seq[side], c.seq[1-side], pcapgen.PSH|pcapgen.ACK, seg)
		c.seq[side] += uint32(len(seg))
	}
}

func (c *conn) close() []pcapgen.Packet {
	c.add(0, c.seq[0], c.seq[1], pcapgen.FIN|pcapgen.ACK, nil)
	c.add(1, c.seq[1], c.seq[0]+1, pcapgen.FIN|pcapgen.ACK, nil)
	c.add(0, c.seq[0]+1, c.seq[1]+1, pcapgen.ACK, nil)
	return c.out
}

// ReverseSegments is 10 connections whose client sends n*80 one-byte
// segments in reverse order, the first byte last, and no acknowledgement
// until all have come: each segment goes in front of everything buffered.
// At n = 100 a side holds 8,000 segments, within the default bound.
func ReverseSegments(n int) []pcapgen.Packet {
	ck := clock{Start}
	var out []pcapgen.Packet
	for i := range 10 {
		c := newConn(&ck, i, 7)
		data := Body(i, n*80)
		for j := len(data) - 1; j >= 0; j-- {
			c.add(0, c.seq[0]+uint32(j), c.seq[1], pcapgen.ACK, data[j:j+1])
		}
		c.seq[0] += uint32(len(data))
		c.add(1, c.seq[1], c.seq[0], pcapgen.ACK, nil)
		out = append(out, c.close()...)
	}
	return out
}

// TLS messages.

// ClientHello returns a TLS 1.2 ClientHello handshake message offering
// one cipher suite, with a server_name.
func ClientHello(sni string) []byte {
	var body []byte
	body = append(body, 3, 3)
	body = append(body, make([]byte, 32)...) // random
	body = append(body, 0)                   // session id
	body = append(body, 0, 2, 0x00, 0x2f)    // TLS_RSA_WITH_AES_128_CBC_SHA
	body = append(body, 1, 0)                // compression: null
	name := []byte(sni)
	ext := binary.BigEndian.AppendUint16(nil, 0) // server_name
	ext = binary.BigEndian.AppendUint16(ext, uint16(len(name)+5))
	ext = binary.BigEndian.AppendUint16(ext, uint16(len(name)+3))
	ext = append(ext, 0)
	ext = binary.BigEndian.AppendUint16(ext, uint16(len(name)))
	ext = append(ext, name...)
	body = binary.BigEndian.AppendUint16(body, uint16(len(ext)))
	body = append(body, ext...)
	return message(1, body)
}

// ServerHello returns a TLS 1.2 ServerHello choosing that suite.
func ServerHello() []byte {
	var body []byte
	body = append(body, 3, 3)
	body = append(body, make([]byte, 32)...)
	body = append(body, 0, 0x00, 0x2f, 0)
	return message(2, body)
}

func message(typ byte, body []byte) []byte {
	return append([]byte{typ, byte(len(body) >> 16), byte(len(body) >> 8), byte(len(body))}, body...)
}

// Records wraps b in TLS records of content type typ, at most size bytes
// of b each.
func Records(typ byte, b []byte, size int) []byte {
	var out []byte
	for len(b) > 0 {
		n := min(len(b), size)
		out = append(out, typ, 3, 3, byte(n>>8), byte(n))
		out = append(out, b[:n]...)
		b = b[n:]
	}
	return out
}

// tlsStart opens a TLS connection with its two hellos.
func tlsStart(ck *clock, i int) *conn {
	c := newConn(ck, i, 443)
	c.send(0, Records(22, ClientHello("hostile.example"), 16384))
	c.send(1, Records(22, ServerHello(), 16384))
	return c
}

// tlsConns is 10 TLS connections opened with their two hellos; each
// then gets what server adds, and closes.
func tlsConns(server func(c *conn)) []pcapgen.Packet {
	ck := clock{Start}
	var out []pcapgen.Packet
	for i := range 10 {
		c := tlsStart(&ck, i)
		server(c)
		out = append(out, c.close()...)
	}
	return out
}

// TLSRepeatedMessage is 10 TLS connections whose server, after its
// hello, sends n*100 segments of empty ServerKeyExchange messages (4
// bytes each, about 360 a segment).
func TLSRepeatedMessage(n int) []pcapgen.Packet {
	seg := Records(22, []byte(strings.Repeat(string(message(12, nil)), 1443/4)), 16384)
	return tlsConns(func(c *conn) {
		for range n * 10 {
			c.send(1, seg)
		}
	})
}

// TLSAlerts is 10 TLS connections whose server, after its hello, sends
// n*10 segments full of warning alerts in records of their own (about
// 200 a segment).
func TLSAlerts(n int) []pcapgen.Packet {
	alert := Records(21, []byte{1, 0}, 2)
	seg := []byte(strings.Repeat(string(alert), pcapgen.MSS/len(alert)))
	return tlsConns(func(c *conn) {
		for range n * 10 {
			c.send(1, seg)
		}
	})
}

// TLSByteRecords is 10 TLS connections whose server sends a Certificate
// message of n*2,000 bytes (200 KB at n = 100, within the parser's 256
// KiB bound) in records of one byte each.
func TLSByteRecords(n int) []pcapgen.Packet {
	recs := Records(22, message(11, make([]byte, n*2000)), 1)
	return tlsConns(func(c *conn) { c.send(1, recs) })
}

// TLSPartialHandshakes is n*6 TLS connections (600 at n = 100) whose
// server, after its hello, sends 240 KB of a Certificate message of 250
// KB and then nothing: each parser holds the partial message to the end.
func TLSPartialHandshakes(n int) []pcapgen.Packet {
	ck := clock{Start}
	var out []pcapgen.Packet
	cert := Records(22, message(11, make([]byte, 250_000)), 16384)
	for i := range n * 6 {
		c := tlsStart(&ck, i)
		c.send(1, cert[:240_000])
		out = append(out, c.out...)
	}
	return out
}

// HTTPObsFold is 10 connections, each with 10 requests whose one header
// is continued over n*150 folded lines (about 60 KB of head at n = 100,
// within the parser's 64 KiB bound), each answered.
func HTTPObsFold(n int) []pcapgen.Packet {
	ck := clock{Start}
	var out []pcapgen.Packet
	fold := "X-Folded: start\r\n" + strings.Repeat(" a\r\n", n*150)
	for i := range 10 {
		c := newConn(&ck, i, 80)
		for j := range 10 {
			c.send(0, []byte(fmt.Sprintf("GET /%d HTTP/1.1\r\nHost: h\r\n%s\r\n", j, fold)))
			c.send(1, []byte("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"))
		}
		out = append(out, c.close()...)
	}
	return out
}

// HTTPPipeline is one connection with n*1000 pipelined requests that are
// never answered.
func HTTPPipeline(n int) []pcapgen.Packet {
	ck := clock{Start}
	c := newConn(&ck, 0, 80)
	var b []byte
	for j := range n * 1000 {
		b = fmt.Appendf(b, "GET /%d HTTP/1.1\r\nHost: h\r\n\r\n", j)
	}
	c.send(0, b)
	return c.close()
}

// DNSPending is one UDP flow of n*100 DNS queries (distinct ids, at most
// the parser's 1,024 waiting at once) answered in reverse order: each
// answer is for the query sent last, the furthest from the front.
func DNSPending(n int) []pcapgen.Packet {
	ck := clock{Start}
	cli, srv := client(1), netip.AddrPortFrom(server, 53)
	var out []pcapgen.Packet
	total := n * 100
	for start := 0; start < total; start += 1000 {
		k := min(1000, total-start)
		for j := range k {
			q := append([]byte(nil), dnsQ...)
			binary.BigEndian.PutUint16(q, uint16(start+j))
			out = append(out, pcapgen.Packet{TS: ck.next(), Data: pcapgen.UDP(cli, srv, q)})
		}
		for j := k - 1; j >= 0; j-- {
			r := append([]byte(nil), dnsQ...)
			binary.BigEndian.PutUint16(r, uint16(start+j))
			r[2] |= 0x80 // a response, with no answer
			out = append(out, pcapgen.Packet{TS: ck.next(), Data: pcapgen.UDP(srv, cli, r)})
		}
	}
	return out
}

// NestedEncapsulation is n*1000 UDP datagrams, each inside IP-in-IP
// nested to a depth from 1 to 24 (the decoder gives up past its bound of
// nesting and counts the packet malformed).
func NestedEncapsulation(n int) []pcapgen.Packet {
	ck := clock{Start}
	var out []pcapgen.Packet
	for i := range n * 1000 {
		inner := pcapgen.UDP(client(i%100), netip.AddrPortFrom(server, 9), Body(i, 16))
		ip := inner[14:]
		for range 1 + i%24 {
			ip = ipInIP(ip)
		}
		out = append(out, pcapgen.Packet{TS: ck.next(), Data: append(append([]byte(nil), inner[:14]...), ip...)})
	}
	return out
}

// ipInIP wraps an IPv4 packet in another (protocol 4).
func ipInIP(ip []byte) []byte {
	h := append([]byte(nil), ip[:20]...)
	h[9] = 4
	binary.BigEndian.PutUint16(h[2:], uint16(20+len(ip)))
	return append(h, ip...)
}
