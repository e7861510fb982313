package flowkey_test

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"testing"

	"github.com/flowscope-go/flowscope/flowkey"
	"github.com/flowscope-go/flowscope/internal/pcapgen"
)

var (
	cli4 = netip.MustParseAddrPort("192.0.2.1:5555")
	srv4 = netip.MustParseAddrPort("198.51.100.7:80")
	cli6 = netip.MustParseAddrPort("[2001:db8::1]:5555")
	srv6 = netip.MustParseAddrPort("[2001:db8::2]:53")
)

type frame struct {
	lt   flowkey.LinkType
	data []byte
}

func vlan(f []byte, tpid uint16, id uint16) []byte {
	out := append([]byte(nil), f[:12]...)
	out = binary.BigEndian.AppendUint16(out, tpid)
	out = binary.BigEndian.AppendUint16(out, id)
	return append(out, f[12:]...)
}

func sll(f []byte) []byte {
	h := make([]byte, 16)
	binary.BigEndian.PutUint16(h[2:], 1)
	binary.BigEndian.PutUint16(h[4:], 6)
	copy(h[6:], f[6:12])
	copy(h[14:], f[12:14])
	return append(h, f[14:]...)
}

func sll2(f []byte) []byte {
	h := make([]byte, 20)
	copy(h[0:], f[12:14])
	binary.BigEndian.PutUint16(h[8:], 1)
	h[11] = 6
	copy(h[12:], f[6:12])
	return append(h, f[14:]...)
}

func null(f []byte, family uint32, big bool) []byte {
	h := make([]byte, 4)
	if big {
		binary.BigEndian.PutUint32(h, family)
	} else {
		binary.LittleEndian.PutUint32(h, family)
	}
	return append(h, f[14:]...)
}

// seedFrames are well-formed frames of every supported link type, plus
// the same cut short; they seed the fuzzer and the table test.
func seedFrames() []frame {
	tcp4 := pcapgen.TCP(cli4, srv4, 100, 200, pcapgen.PSH|pcapgen.ACK, []byte("GET / HTTP/1.1\r\n\r\n"))
	udp6 := pcapgen.UDP(cli6, srv6, []byte{0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0})
	fs := []frame{
		{flowkey.LinkEthernet, tcp4},
		{flowkey.LinkEthernet, udp6},
		{flowkey.LinkEthernet, vlan(tcp4, 0x8100, 42)},
		{flowkey.LinkEthernet, vlan(vlan(tcp4, 0x8100, 7), 0x88a8, 100)},
		{flowkey.LinkLinuxSLL, sll(tcp4)},
		{flowkey.LinkLinuxSLL2, sll2(udp6)},
		{flowkey.LinkNull, null(tcp4, 2, false)},
		{flowkey.LinkNull, null(udp6, 30, false)},
		{flowkey.LinkLoop, null(udp6, 24, true)},
		{flowkey.LinkRaw, tcp4[14:]},
		{flowkey.LinkIPv6, udp6[14:]},
	}
	for _, f := range fs[:2] {
		fs = append(fs, frame{f.lt, f.data[:30]}, frame{f.lt, f.data[:len(f.data)-20]})
	}
	return fs
}

func TestDecodeLinkTypes(t *testing.T) {
	for i, f := range seedFrames()[:11] {
		var d flowkey.Decoded
		if err := (&flowkey.Decoder{}).Decode(f.lt, f.data, &d); err != nil {
			t.Errorf("frame %d (link %d): %v", i, f.lt, err)
			continue
		}
		switch d.Proto {
		case flowkey.ProtoTCP:
			if d.Src.Netip() != cli4.Addr() || d.DstPort != 80 || d.PayloadLen != 18 || string(d.Payload) != "GET / HTTP/1.1\r\n\r\n" || d.Seq != 100 {
				t.Errorf("frame %d: decoded %+v", i, d)
			}
			if d.IPLength != 20+20+18 {
				t.Errorf("frame %d: IP length %d", i, d.IPLength)
			}
		case flowkey.ProtoUDP:
			if d.Dst.Netip() != srv6.Addr() || d.DstPort != 53 || d.PayloadLen != 12 || d.IPLength != 40+8+12 {
				t.Errorf("frame %d: decoded %+v", i, d)
			}
		default:
			t.Errorf("frame %d: protocol %d", i, d.Proto)
		}
	}
}

func TestDecodeVLANAndPadding(t *testing.T) {
	f := vlan(vlan(pcapgen.UDP(cli4, srv4, []byte("hi")), 0x8100, 7), 0x88a8, 100)
	f = append(f, make([]byte, 20)...) // Ethernet padding after the IP datagram
	var d flowkey.Decoded
	if err := (&flowkey.Decoder{}).Decode(flowkey.LinkEthernet, f, &d); err != nil {
		t.Fatal(err)
	}
	if d.VLAN != 100 || string(d.Payload) != "hi" || d.PayloadLen != 2 {
		t.Errorf("VLAN %d, payload %q (%d); want outer VLAN 100 and \"hi\" without padding", d.VLAN, d.Payload, d.PayloadLen)
	}
}

func TestDecodeErrors(t *testing.T) {
	tcp := pcapgen.TCP(cli4, srv4, 1, 1, pcapgen.ACK, nil)
	frag := append([]byte(nil), tcp...)
	frag[14+6] = 0x20 // more fragments
	arp := make([]byte, 42)
	arp[12], arp[13] = 0x08, 0x06
	badVersion := append([]byte(nil), tcp...)
	badVersion[14] = 0x55
	cases := []struct {
		name string
		lt   flowkey.LinkType
		data []byte
		want error
	}{
		{"unknown link", 160, tcp, flowkey.ErrUnsupportedLinkType},
		{"arp", flowkey.LinkEthernet, arp, flowkey.ErrNotIP},
		{"short ethernet", flowkey.LinkEthernet, tcp[:10], flowkey.ErrTruncated},
		{"short ip", flowkey.LinkEthernet, tcp[:30], flowkey.ErrTruncated},
		{"short tcp", flowkey.LinkEthernet, tcp[:14+20+10], flowkey.ErrTruncated},
		{"fragment", flowkey.LinkEthernet, frag, flowkey.ErrFragment},
		{"bad version", flowkey.LinkEthernet, badVersion, flowkey.ErrMalformed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var d flowkey.Decoded
			if err := (&flowkey.Decoder{}).Decode(c.lt, c.data, &d); !errors.Is(err, c.want) {
				t.Errorf("Decode = %v, want %v", err, c.want)
			}
		})
	}
}

func TestDecodeZeroAllocs(t *testing.T) {
	f := pcapgen.TCP(cli4, srv4, 1, 1, pcapgen.ACK, []byte("x"))
	var dec flowkey.Decoder
	var d flowkey.Decoded
	if n := testing.AllocsPerRun(100, func() { _ = dec.Decode(flowkey.LinkEthernet, f, &d) }); n != 0 {
		t.Errorf("Decode allocates %v times, want 0", n)
	}
}

// withExtHeaders inserts IPv6 extension headers (each 8 bytes) between the
// IPv6 header of an Ethernet/IPv6 frame and its transport header.
func withExtHeaders(f []byte, headers ...[]byte) []byte {
	out := append([]byte(nil), f[:14+40]...)
	next := out[14+6]
	types := []byte{}
	for _, h := range headers {
		types = append(types, h[0])
	}
	out[14+6] = types[0]
	for i, h := range headers {
		h = append([]byte(nil), h...)
		if i+1 < len(headers) {
			h[0] = types[i+1]
		} else {
			h[0] = next
		}
		// h[0] carried this header's own type on input; on the wire it is
		// the next header's type.
		out = append(out, h...)
	}
	plen := binary.BigEndian.Uint16(out[14+4:]) + uint16(8*len(headers))
	binary.BigEndian.PutUint16(out[14+4:], plen)
	return append(out, f[14+40:]...)
}

func TestDecodeIPv6ExtensionHeaders(t *testing.T) {
	udp := pcapgen.UDP(cli6, srv6, []byte("query"))
	hopByHop := []byte{0, 0, 1, 4, 0, 0, 0, 0}
	routing := []byte{43, 0, 0, 0, 0, 0, 0, 0}
	atomicFrag := []byte{44, 0, 0, 0, 0, 0, 0, 1}
	firstFrag := []byte{44, 0, 0, 1, 0, 0, 0, 1} // M flag set
	var dec flowkey.Decoder
	for _, c := range []struct {
		name    string
		headers [][]byte
		want    error
	}{
		{"hop-by-hop and routing", [][]byte{hopByHop, routing}, nil},
		{"atomic fragment", [][]byte{atomicFrag}, nil},
		{"first fragment", [][]byte{firstFrag}, flowkey.ErrFragment},
	} {
		var d flowkey.Decoded
		err := dec.Decode(flowkey.LinkEthernet, withExtHeaders(udp, c.headers...), &d)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: Decode = %v, want %v", c.name, err, c.want)
			continue
		}
		if err == nil && (d.Proto != flowkey.ProtoUDP || d.DstPort != 53 || string(d.Payload) != "query" || d.IPLength != 40+8*len(c.headers)+8+5) {
			t.Errorf("%s: decoded proto %d port %d payload %q IP length %d", c.name, d.Proto, d.DstPort, d.Payload, d.IPLength)
		}
		if err != nil && !d.Fragment {
			t.Errorf("%s: fragment not marked", c.name)
		}
	}
}
