package flowkey_test

import (
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/flowscope-go/flowscope/flowkey"
	"github.com/flowscope-go/flowscope/internal/pcapgen"
)

// pairHashFrames are frames of every shape FramePairHash reads or hands
// to the full decoder: the link types, tunnels, fragments, IPv6 with
// extension headers, truncations.
func pairHashFrames() []frame {
	fs := seedFrames()
	for _, c := range tunnelCases() {
		fs = append(fs, frame{flowkey.LinkEthernet, c.frame})
	}
	whole4 := pcapgen.UDP(cli4, srv4, make([]byte, 300))
	for _, f := range pcapgen.Fragments(whole4, 128, 7) {
		fs = append(fs, frame{flowkey.LinkEthernet, f})
	}
	whole6 := pcapgen.UDP(cli6, srv6, make([]byte, 300))
	for _, f := range pcapgen.Fragments(whole6, 128, 8) {
		fs = append(fs, frame{flowkey.LinkEthernet, f})
	}
	tcp6 := pcapgen.TCP(cli6, srv6, 1, 2, pcapgen.ACK, []byte("x"))
	icmp4 := append([]byte(nil), pcapgen.TCP(cli4, srv4, 1, 2, pcapgen.ACK, nil)...)
	icmp4[14+9] = flowkey.ProtoICMP
	hop := append([]byte(nil), tcp6[:14+40]...) // a hop-by-hop header before TCP
	hop[14+6] = 0
	hop = append(hop, flowkey.ProtoTCP, 0, 0, 0, 0, 0, 0, 0)
	hop = append(hop, tcp6[14+40:]...)
	fs = append(fs, frame{flowkey.LinkEthernet, tcp6}, frame{flowkey.LinkEthernet, icmp4}, frame{flowkey.LinkEthernet, hop},
		frame{flowkey.LinkRaw, tcp6[14:]}, frame{flowkey.LinkIPv4, icmp4[14:]},
		frame{flowkey.LinkEthernet, wrapIP(41, tcp6[14:])}) // IPv6 in IPv4
	// Tunnels in IPv6: IPv4 in IPv6 behind a hop-by-hop header and
	// behind an atomic fragment header, then IPv4 and IPv6 in IPv6, and
	// VXLAN in IPv6 (hashed by its outer addresses).
	inner := pcapgen.TCP(cli4, srv4, 100, 200, pcapgen.PSH|pcapgen.ACK, []byte("GET / HTTP/1.1\r\n\r\n"))
	outer := pcapgen.UDP(netip.MustParseAddrPort("[2001:db8::7]:1"), netip.MustParseAddrPort("[2001:db8::8]:2"), nil)[:14+40]
	in6 := func(next byte, payload []byte) []byte {
		f := append([]byte(nil), outer...)
		f[14+6] = next
		binary.BigEndian.PutUint16(f[14+4:], uint16(len(payload)))
		return append(f, payload...)
	}
	fs = append(fs,
		frame{flowkey.LinkEthernet, in6(0, append([]byte{4, 0, 1, 4, 0, 0, 0, 0}, inner[14:]...))},
		frame{flowkey.LinkEthernet, in6(44, append([]byte{4, 0, 0, 0, 0, 0, 0, 9}, inner[14:]...))},
		frame{flowkey.LinkEthernet, in6(4, inner[14:])},
		frame{flowkey.LinkEthernet, in6(41, tcp6[14:])},
		frame{flowkey.LinkEthernet, pcapgen.UDP(cli6, netip.AddrPortFrom(srv6.Addr(), 4789), append([]byte{0x08, 0, 0, 0, 0, 0, 1, 0}, inner...))},
	)
	return fs
}

// TestFramePairHashAsDecode: on every frame above and on a hundred
// thousand mutations of them, FramePairHash says what PairHash says
// after a full decode.
func TestFramePairHashAsDecode(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var dec flowkey.Decoder
	fs := pairHashFrames()
	for i := 0; i < 100_000; i++ {
		f := fs[i%len(fs)]
		data := f.data
		if i >= len(fs) {
			data = append([]byte(nil), data...)
			for range 1 + rng.IntN(3) {
				switch rng.IntN(6) {
				case 0:
					if len(data) > 0 {
						// Mostly the headers: that is where the paths part.
						data[rng.IntN(min(len(data), 80))] = byte(rng.Uint32())
					}
				case 1:
					data = data[:rng.IntN(len(data)+1)]
				case 2:
					if len(data) > 14+10 {
						data[14+9] = []byte{4, 41, 47, 6, 17, 1, 58, 0, 44}[rng.IntN(9)]
					}
				case 3: // the IPv4 header length, or IPv6's next header
					if len(data) > 14+6 {
						data[14] = data[14]&0xf0 | byte(rng.IntN(16))
						data[14+6] = []byte{6, 17, 58, 0, 44, 4, 41}[rng.IntN(7)]
					}
				case 4: // the IPv4 total length, or the IPv6 payload length, small
					if len(data) > 14+5 {
						data[14+2], data[14+3] = 0, byte(rng.IntN(90))
						data[14+4], data[14+5] = 0, byte(rng.IntN(30))
					}
				case 5: // a tunnel's port where a UDP destination port may be
					if off := 14 + 20 + 2 + 20*rng.IntN(2); len(data) > off+1 {
						p := []uint16{4789, 6081, 2152}[rng.IntN(3)]
						data[off], data[off+1] = byte(p>>8), byte(p)
					}
				}
			}
		}
		checkPairHash(t, &dec, f.lt, data)
	}
}

func checkPairHash(t *testing.T, dec *flowkey.Decoder, lt flowkey.LinkType, data []byte) {
	t.Helper()
	var full, scratch flowkey.Decoded
	_ = dec.Decode(lt, data, &full)
	want, wok := flowkey.PairHash(&full)
	got, ok := flowkey.FramePairHash(lt, data, dec, &scratch)
	if got != want || ok != wok {
		t.Fatalf("link %d, % x: FramePairHash %x %v, PairHash after Decode %x %v", lt, data, got, ok, want, wok)
	}
}

// TestFramePairHashShortPath: plain TCP and UDP frames, and UDP tunnels,
// are hashed without decoding into d; IP in IP, GRE and MPLS are decoded.
func TestFramePairHashShortPath(t *testing.T) {
	var dec flowkey.Decoder
	for _, f := range seedFrames()[:4] {
		var d flowkey.Decoded
		if _, ok := flowkey.FramePairHash(f.lt, f.data, &dec, &d); !ok || d.IPVersion != 0 {
			t.Errorf("link %d frame: ok %v, decoded IP version %d (want the short path)", f.lt, ok, d.IPVersion)
		}
	}
	for _, c := range tunnelCases() {
		// UDP tunnels are hashed by their outer addresses, on the short
		// path; the others need the inner ones.
		var d flowkey.Decoded
		_, ok := flowkey.FramePairHash(flowkey.LinkEthernet, c.frame, &dec, &d)
		if full := d.IPVersion != 0; !ok || full != (c.tunnel == flowkey.NoTunnel) {
			t.Errorf("%s: ok %v, decoded in full %v", c.name, ok, full)
		}
	}
	fs := pairHashFrames()
	for _, f := range fs[len(fs)-5 : len(fs)-1] { // IP in IPv6: the inner addresses count
		var full flowkey.Decoded
		_ = dec.Decode(f.lt, f.data, &full)
		if h, _ := flowkey.PairHash(&full); h == outerHash(t, f.data) {
			t.Errorf("% x: hashed by its outer addresses, not the inner ones", f.data)
		}
	}
}

func outerHash(t *testing.T, frame []byte) uint64 {
	t.Helper()
	var d flowkey.Decoded
	d.IPVersion = 6
	d.Src, d.Dst = flowkey.Addr(frame[14+8:14+24]), flowkey.Addr(frame[14+24:14+40])
	h, _ := flowkey.PairHash(&d)
	return h
}
