package flowkey_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"testing"

	"github.com/flowscope-go/flowscope/flowkey"
	"github.com/flowscope-go/flowscope/internal/pcapgen"
)

var (
	tunA = netip.MustParseAddrPort("203.0.113.1:50000")
	tunB = netip.MustParseAddrPort("203.0.113.2:4789")
)

// ipv4Packet returns the IP part of an Ethernet frame.
func ipOf(frame []byte) []byte { return frame[14:] }

// wrapIP returns an Ethernet/IPv4 frame carrying payload as protocol proto.
func wrapIP(proto uint8, payload []byte) []byte {
	f := pcapgen.UDP(netip.AddrPortFrom(tunA.Addr(), 0), netip.AddrPortFrom(tunB.Addr(), 0), payload)
	// Turn the UDP datagram into a bare IP payload of the given protocol.
	ip := append([]byte(nil), f[14:14+20]...)
	ip[9] = proto
	binary.BigEndian.PutUint16(ip[2:], uint16(20+len(payload)))
	return append(append(append([]byte(nil), f[:14]...), ip...), payload...)
}

func udpTunnel(port uint16, header, inner []byte) []byte {
	return pcapgen.UDP(tunA, netip.AddrPortFrom(tunB.Addr(), port), append(append([]byte(nil), header...), inner...))
}

type tunnelCase struct {
	name   string
	frame  []byte
	tunnel flowkey.TunnelKind
}

// tunnelCases returns the same TCP segment inside each encapsulation.
func tunnelCases() []tunnelCase {
	inner := pcapgen.TCP(cli4, srv4, 100, 200, pcapgen.PSH|pcapgen.ACK, []byte("GET / HTTP/1.1\r\n\r\n"))
	innerIP := ipOf(inner)
	gtpHdr := []byte{0x30, 0xff, 0, byte(len(innerIP)), 0, 0, 0, 1}
	mpls := append([]byte(nil), inner[:12]...)
	mpls = append(mpls, 0x88, 0x47, 0, 0x01, 0x00, 64, 0, 0x02, 0x01, 64) // two labels, the second at the bottom
	mpls = append(mpls, innerIP...)
	return []tunnelCase{
		{"VXLAN", udpTunnel(4789, []byte{0x08, 0, 0, 0, 0, 0, 1, 0}, inner), flowkey.VXLAN},
		{"Geneve", udpTunnel(6081, []byte{0, 0, 0x65, 0x58, 0, 0, 1, 0}, inner), flowkey.Geneve},
		{"GTP-U", udpTunnel(2152, gtpHdr, innerIP), flowkey.GTPU},
		{"GRE", wrapIP(47, append([]byte{0, 0, 0x08, 0x00}, innerIP...)), flowkey.NoTunnel},
		{"GRE with key and sequence", wrapIP(47, append([]byte{0x30, 0, 0x08, 0x00, 0, 0, 0, 9, 0, 0, 0, 1}, innerIP...)), flowkey.NoTunnel},
		{"GRE transparent Ethernet", wrapIP(47, append([]byte{0, 0, 0x65, 0x58}, inner...)), flowkey.NoTunnel},
		{"ERSPAN II", wrapIP(47, append(append([]byte{0x10, 0, 0x88, 0xbe, 0, 0, 0, 1}, make([]byte, 8)...), inner...)), flowkey.NoTunnel},
		{"IP in IP", wrapIP(4, innerIP), flowkey.NoTunnel},
		{"MPLS", mpls, flowkey.NoTunnel},
	}
}

func TestDecapsulation(t *testing.T) {
	cases := tunnelCases()
	inner := pcapgen.TCP(cli4, srv4, 100, 200, pcapgen.PSH|pcapgen.ACK, []byte("GET / HTTP/1.1\r\n\r\n"))
	innerIP := ipOf(inner)
	var dec flowkey.Decoder
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var d flowkey.Decoded
			if err := dec.Decode(flowkey.LinkEthernet, c.frame, &d); err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if d.Proto != flowkey.ProtoTCP || d.Src.Netip() != cli4.Addr() || d.DstPort != 80 || string(d.Payload) != "GET / HTTP/1.1\r\n\r\n" {
				t.Errorf("inner packet: proto %d %v:%d payload %q", d.Proto, d.Src, d.DstPort, d.Payload)
			}
			if d.IPLength != len(innerIP) {
				t.Errorf("IP length %d, want the inner %d", d.IPLength, len(innerIP))
			}
			if d.Tunnel.Kind != c.tunnel {
				t.Errorf("tunnel %d, want %d", d.Tunnel.Kind, c.tunnel)
			}
			if c.tunnel != flowkey.NoTunnel && (d.Tunnel.Src.Netip() != tunA.Addr() || d.Tunnel.SrcPort != tunA.Port()) {
				t.Errorf("tunnel endpoints %v:%d", d.Tunnel.Src, d.Tunnel.SrcPort)
			}
		})
	}
	t.Run("VXLAN port without VXLAN", func(t *testing.T) {
		var d flowkey.Decoded
		if err := dec.Decode(flowkey.LinkEthernet, udpTunnel(4789, []byte("not a vxlan header at all"), nil), &d); err != nil {
			t.Fatal(err)
		}
		if d.Proto != flowkey.ProtoUDP || d.DstPort != 4789 || d.Tunnel.Kind != flowkey.NoTunnel {
			t.Errorf("got proto %d port %d tunnel %d, want the plain UDP datagram", d.Proto, d.DstPort, d.Tunnel.Kind)
		}
	})
	t.Run("nesting is bounded", func(t *testing.T) {
		f := innerIP
		for range 20 {
			f = ipOf(wrapIP(4, f))
		}
		var d flowkey.Decoded
		if err := dec.Decode(flowkey.LinkRaw, f, &d); !errors.Is(err, flowkey.ErrMalformed) {
			t.Errorf("20 nested IP-in-IP: %v, want ErrMalformed", err)
		}
	})
}

func TestDefragment(t *testing.T) {
	body := make([]byte, 3000)
	for i := range body {
		body[i] = byte(i)
	}
	whole := pcapgen.UDP(cli4, srv4, body)
	frags := pcapgen.Fragments(whole, 1200, 0x1234)
	if len(frags) != 3 {
		t.Fatalf("%d fragments", len(frags))
	}
	for _, order := range [][]int{{0, 1, 2}, {2, 0, 1}, {1, 2, 0, 0, 1}} {
		var f flowkey.Defragmenter
		var dec flowkey.Decoder
		var got []byte
		for _, i := range order {
			var d flowkey.Decoded
			if err := dec.Decode(flowkey.LinkEthernet, frags[i], &d); !errors.Is(err, flowkey.ErrFragment) {
				t.Fatalf("fragment %d: %v", i, err)
			}
			if dg, ok := f.Add(&d, 0); ok {
				got = append([]byte(nil), dg...)
			}
		}
		var d flowkey.Decoded
		if err := dec.Decode(flowkey.LinkIPv4, got, &d); err != nil {
			t.Fatalf("order %v: reassembled datagram: %v", order, err)
		}
		if d.Proto != flowkey.ProtoUDP || d.PayloadLen != 3000 || d.IPLength != 20+8+3000 || string(d.Payload) != string(body) {
			t.Errorf("order %v: proto %d payload %d ip %d", order, d.Proto, d.PayloadLen, d.IPLength)
		}
	}
	// A missing fragment: nothing is returned, and it times out.
	var f flowkey.Defragmenter
	var dec flowkey.Decoder
	for _, i := range []int{0, 2} {
		var d flowkey.Decoded
		_ = dec.Decode(flowkey.LinkEthernet, frags[i], &d)
		if _, ok := f.Add(&d, 0); ok {
			t.Fatal("a datagram with a hole was returned")
		}
	}
	var d flowkey.Decoded
	_ = dec.Decode(flowkey.LinkEthernet, frags[0], &d)
	d.Frag.ID = 999 // another datagram, a minute later
	f.Add(&d, 60e9)
	if st := f.Stats(); st.TimedOut != 1 || f.Pending() != 1 {
		t.Errorf("stats %+v, %d pending; want 1 timed out, 1 pending", st, f.Pending())
	}
}

func FuzzDefragment(f *testing.F) {
	f.Add(uint16(0), uint16(3), []byte("abcdefghijklmnopqrstuvwxyz"), uint8(8))
	f.Fuzz(func(t *testing.T, id, mask uint16, data []byte, size uint8) {
		if len(data) == 0 || size == 0 {
			return
		}
		whole := pcapgen.UDP(cli4, srv4, data)
		frags := pcapgen.Fragments(whole, int(size%64+1)*8, 0x1234)
		var fr flowkey.Defragmenter
		var dec flowkey.Decoder
		for i, fb := range frags {
			if mask&(1<<(i%16)) != 0 && i%3 == 0 {
				continue // drop some
			}
			var d flowkey.Decoded
			if dec.Decode(flowkey.LinkEthernet, fb, &d) != flowkey.ErrFragment {
				continue
			}
			d.Frag.ID = uint32(id)
			if dg, ok := fr.Add(&d, int64(i)); ok {
				var out flowkey.Decoded
				if err := dec.Decode(flowkey.LinkIPv4, dg, &out); err != nil || string(out.Payload) != string(data) {
					t.Fatalf("reassembled datagram: %v, payload %d bytes of %d", err, len(out.Payload), len(data))
				}
			}
		}
	})
}

// FuzzDefragmentHostile feeds the Defragmenter fragments of arbitrary
// offsets, lengths and flags, overlapping and contradicting each other, for a
// few datagrams at once. It must not panic, must stay within its bounds, and
// whatever it returns must be a datagram the decoder can read as IP.
func FuzzDefragmentHostile(f *testing.F) {
	f.Add([]byte{0, 0, 1, 16, 1, 1, 0, 16, 0, 2, 0, 8})
	f.Add([]byte{0, 0, 1, 24, 0, 1, 1, 24, 0, 0, 0, 16, 1, 0, 0, 8})
	f.Fuzz(func(t *testing.T, ops []byte) {
		fr := flowkey.Defragmenter{MaxDatagrams: 3, MaxBytes: 4096}
		var dec flowkey.Decoder
		whole := pcapgen.UDP(cli4, srv4, make([]byte, 64))
		payload := make([]byte, 4096)
		for i := range payload {
			payload[i] = byte(i)
		}
		// Each op is 4 bytes: datagram id, offset in 8-byte units, flags
		// (bit 0 more fragments, bit 1 flips the payload bytes, bits 2-4
		// bytes short of whole units), length in 8-byte units.
		var flipped [5]bool // a datagram of that id got flipped bytes
		for i := 0; i+4 <= len(ops); i += 4 {
			id, off, flags, n := ops[i]%5, int(ops[i+1])*8, ops[i+2], int(ops[i+3]%64)*8
			n = max(n-int(flags>>2&7), 0)
			flipped[id] = flipped[id] || flags&2 != 0
			var d flowkey.Decoded
			if dec.Decode(flowkey.LinkEthernet, whole, &d) != nil {
				t.Fatal("template frame does not decode")
			}
			data := payload[off : off+n]
			if flags&2 != 0 {
				data = make([]byte, n)
				for j := range data {
					data[j] = ^payload[off+j]
				}
			}
			d.Frag = flowkey.FragInfo{ID: uint32(id), Offset: uint16(off), More: flags&1 != 0,
				Header: ipOf(whole)[:20], NextHeader: flowkey.ProtoUDP}
			d.Payload = data
			dg, ok := fr.Add(&d, int64(i)*1e8)
			if fr.Pending() > 3 {
				t.Fatalf("%d datagrams pending, bound is 3", fr.Pending())
			}
			if !ok {
				continue
			}
			if len(dg) > 20+4096 {
				t.Fatalf("datagram of %d bytes beyond MaxBytes", len(dg))
			}
			// The payload bytes are arbitrary, so the transport header may be
			// malformed; the IP header the Defragmenter wrote must not be.
			var out flowkey.Decoded
			err := dec.Decode(flowkey.LinkIPv4, dg, &out)
			if out.IPVersion != 4 || out.IPLength != len(dg) {
				t.Fatalf("datagram of %d bytes decodes as IPv%d of length %d (%v)", len(dg), out.IPVersion, out.IPLength, err)
			}
			// Fragments that all carry the same bytes at the same offsets
			// make those bytes, wherever they fell.
			if !flipped[id] && string(dg[20:]) != string(payload[:len(dg)-20]) {
				t.Fatalf("datagram %d reassembled with bytes not sent", id)
			}
			flipped[id] = false
		}
		st := fr.Stats()
		if st.Reassembled+st.TimedOut+st.Evicted > st.Fragments {
			t.Fatalf("more datagrams ended than fragments came: %+v", st)
		}
	})
}

// TestDecodedReuse decodes every pair of packets of different kinds into
// one Decoded, and checks the second says what it says decoded alone: the
// parts Decode leaves uncleared (Frag, Tunnel) never leak into a packet
// that does not set them.
func TestDecodedReuse(t *testing.T) {
	frames := append(dirtyFrames(), benchFrames()...)
	for _, c := range tunnelCases() {
		frames = append(frames, c.frame)
	}
	frames = append(frames, frames[0][:40]) // truncated in the tunnel header
	var dec flowkey.Decoder
	for i, a := range frames {
		for j, b := range frames {
			var fresh, reused flowkey.Decoded
			err := dec.Decode(flowkey.LinkEthernet, b, &fresh)
			_ = dec.Decode(flowkey.LinkEthernet, a, &reused)
			rerr := dec.Decode(flowkey.LinkEthernet, b, &reused)
			t.Run(fmt.Sprintf("%d after %d", j, i), func(t *testing.T) { sameDecoded(t, err, &fresh, rerr, &reused) })
		}
	}
}
