package flowkey_test

import (
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/flowscope-go/flowscope/flowkey"
	"github.com/flowscope-go/flowscope/internal/pcapgen"
)

func benchFrames() [][]byte {
	return [][]byte{
		pcapgen.TCP(cli4, srv4, 100, 200, pcapgen.PSH|pcapgen.ACK, make([]byte, 200)),
		pcapgen.TCP(srv4, cli4, 200, 300, pcapgen.ACK, nil),
		pcapgen.UDP(cli6, srv6, make([]byte, 60)),
		vlan(pcapgen.TCP(cli4, srv4, 100, 200, pcapgen.ACK, make([]byte, 1400)), 0x8100, 10),
	}
}

// BenchmarkDecode is flowscope's decoder on Ethernet frames (IPv4/TCP,
// IPv6/UDP, 802.1Q).
func BenchmarkDecode(b *testing.B) {
	frames := benchFrames()
	var dec flowkey.Decoder
	var d flowkey.Decoded
	b.ReportAllocs()
	for b.Loop() {
		for _, f := range frames {
			_ = dec.Decode(flowkey.LinkEthernet, f, &d)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(frames)), "ns/pkt")
}

// BenchmarkDecodingLayerParser is gopacket's DecodingLayerParser on the
// same frames, decoding the same layers: the baseline Decode replaced.
func BenchmarkDecodingLayerParser(b *testing.B) {
	frames := benchFrames()
	var (
		eth  layers.Ethernet
		dot1 layers.Dot1Q
		ip4  layers.IPv4
		ip6  layers.IPv6
		tcp  layers.TCP
		udp  layers.UDP
		pl   gopacket.Payload
	)
	p := gopacket.NewDecodingLayerParser(layers.LayerTypeEthernet, &eth, &dot1, &ip4, &ip6, &tcp, &udp, &pl)
	p.IgnoreUnsupported = true
	decoded := make([]gopacket.LayerType, 0, 8)
	b.ReportAllocs()
	for b.Loop() {
		for _, f := range frames {
			_ = p.DecodeLayers(f, &decoded)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(frames)), "ns/pkt")
}

// BenchmarkDecodeEncapsulated is the decoder on one kind of frame at a
// time: a plain IPv4/TCP segment, then the same segment behind an 802.1Q
// tag, inside VXLAN, and inside GRE. Each must decode without allocating.
func BenchmarkDecodeEncapsulated(b *testing.B) {
	plain := pcapgen.TCP(cli4, srv4, 100, 200, pcapgen.PSH|pcapgen.ACK, make([]byte, 200))
	frames := []struct {
		name  string
		frame []byte
	}{
		{"plain", plain},
		{"VLAN", vlan(plain, 0x8100, 10)},
		{"VXLAN", udpTunnel(4789, []byte{0x08, 0, 0, 0, 0, 0, 1, 0}, plain)},
		{"GRE", wrapIP(47, append([]byte{0, 0, 0x08, 0x00}, ipOf(plain)...))},
	}
	for _, f := range frames {
		b.Run(f.name, func(b *testing.B) {
			var dec flowkey.Decoder
			var d flowkey.Decoded
			if err := dec.Decode(flowkey.LinkEthernet, f.frame, &d); err != nil || d.DstPort != 80 {
				b.Fatalf("frame does not decode to the inner segment: %v", err)
			}
			b.ReportAllocs()
			for b.Loop() {
				_ = dec.Decode(flowkey.LinkEthernet, f.frame, &d)
			}
		})
	}
}

// BenchmarkFramePairHash is the partition's shard hash on the same
// frames; BenchmarkDecodePairHash the full decode it replaced.
func BenchmarkFramePairHash(b *testing.B) {
	frames := benchFrames()
	var dec flowkey.Decoder
	var d flowkey.Decoded
	var sum uint64
	for b.Loop() {
		for _, f := range frames {
			h, _ := flowkey.FramePairHash(flowkey.LinkEthernet, f, &dec, &d)
			sum += h
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(frames)), "ns/pkt")
	_ = sum
}

func BenchmarkDecodePairHash(b *testing.B) {
	frames := benchFrames()
	var dec flowkey.Decoder
	var d flowkey.Decoded
	var sum uint64
	for b.Loop() {
		for _, f := range frames {
			_ = dec.Decode(flowkey.LinkEthernet, f, &d)
			h, _ := flowkey.PairHash(&d)
			sum += h
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(frames)), "ns/pkt")
	_ = sum
}
