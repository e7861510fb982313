package bench

import (
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/reassembly"

	"github.com/flowscope-go/flowscope"
	"github.com/flowscope-go/flowscope/flowkey"
	"github.com/flowscope-go/flowscope/internal/pcapgen"
)

// streamInput is a set of TCP connections, each a handshake, data
// segments from client to server, and a FIN exchange, with the data
// segments arranged by one of the patterns below.
type streamInput struct {
	frames   [][]byte
	times    []time.Time
	segments int // data segments, retransmissions included
	bytes    int // distinct payload bytes
}

const (
	benchConns   = 64
	benchSegs    = 500
	benchSegSize = 1448
)

// makeStreams builds the input. pattern is "inorder", "ooo" (shuffled in
// windows of 8 segments) or "retrans" (every segment sent twice, and one
// in ten re-sent overlapping its neighbour).
func makeStreams(pattern string) *streamInput {
	rng := rand.New(rand.NewPCG(5, 5))
	in := &streamInput{}
	payload := make([]byte, benchSegSize*2)
	for i := range payload {
		payload[i] = byte(i)
	}
	srv := netip.MustParseAddrPort("192.0.2.80:80")
	type pkt struct {
		conn int
		data []byte
	}
	perConn := make([][][]byte, benchConns)
	for c := range benchConns {
		cli := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 1, byte(c >> 8), byte(c)}), 40000)
		isn := rng.Uint32()
		var fs [][]byte
		fs = append(fs, pcapgen.TCP(cli, srv, isn, 0, pcapgen.SYN, nil),
			pcapgen.TCP(srv, cli, 7, isn+1, pcapgen.SYN|pcapgen.ACK, nil),
			pcapgen.TCP(cli, srv, isn+1, 8, pcapgen.ACK, nil))
		var data [][]byte
		for s := range benchSegs {
			seq := isn + 1 + uint32(s*benchSegSize)
			data = append(data, pcapgen.TCP(cli, srv, seq, 8, pcapgen.ACK, payload[:benchSegSize]))
			switch {
			case pattern == "retrans":
				data = append(data, pcapgen.TCP(cli, srv, seq, 8, pcapgen.ACK, payload[:benchSegSize]))
				if s%10 == 9 {
					data = append(data, pcapgen.TCP(cli, srv, seq-benchSegSize/2, 8, pcapgen.ACK, payload[:benchSegSize]))
				}
			}
		}
		if pattern == "ooo" {
			for w := 0; w < len(data); w += 8 {
				win := data[w:min(w+8, len(data))]
				rng.Shuffle(len(win), func(a, b int) { win[a], win[b] = win[b], win[a] })
			}
		}
		in.segments += len(data)
		in.bytes += benchSegs * benchSegSize
		fin := isn + 1 + uint32(benchSegs*benchSegSize)
		fs = append(fs, data...)
		fs = append(fs, pcapgen.TCP(cli, srv, fin, 8, pcapgen.FIN|pcapgen.ACK, nil),
			pcapgen.TCP(srv, cli, 8, fin+1, pcapgen.FIN|pcapgen.ACK, nil),
			pcapgen.TCP(cli, srv, fin+1, 9, pcapgen.ACK, nil))
		perConn[c] = fs
	}
	// Interleave the connections packet by packet.
	ts := time.Unix(1_700_000_000, 0)
	for i := 0; ; i++ {
		any := false
		for c := range perConn {
			if i < len(perConn[c]) {
				in.frames = append(in.frames, perConn[c][i])
				in.times = append(in.times, ts)
				ts = ts.Add(time.Microsecond)
				any = true
			}
		}
		if !any {
			break
		}
	}
	return in
}

func reportStreams(b *testing.B, in *streamInput, delivered int) {
	if delivered != in.bytes {
		b.Fatalf("delivered %d bytes, want %d", delivered, in.bytes)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*in.segments), "ns/segment")
}

// BenchmarkReassembly compares flowscope's reassembly (decoding, flow
// tracking and the causal ordering a Driver feeds its session parsers
// with included) with gopacket's reassembly package (decoding with a
// DecodingLayerParser included) on the same frames. MB/s counts the
// distinct payload bytes delivered.
func BenchmarkReassembly(b *testing.B) {
	for _, pattern := range []string{"inorder", "ooo", "retrans"} {
		in := makeStreams(pattern)
		b.Run(pattern+"/flowscope", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(in.bytes))
			delivered := 0
			count := byteCounter{&delivered}
			cfg := &flowscope.Config{Parsers: []flowscope.Parser{flowscope.Session(flowscope.SessionFactoryFunc[noRecord](
				func(*flowscope.Conn) flowscope.SessionParser[noRecord] { return count }))}}
			for b.Loop() {
				delivered = 0
				tr := flowscope.NewDriver(flowkey.FiveTupleExtractor{}, cfg)
				evs := make([]flowscope.Record, 0, 16)
				for i, f := range in.frames {
					p := flowscope.Packet{Data: f, Time: in.times[i].UnixNano(), Length: len(f), LinkType: flowkey.LinkEthernet}
					evs = tr.Track(&p, evs[:0])
				}
				tr.Flush(flowscope.EndOfInput, evs[:0])
			}
			reportStreams(b, in, delivered)
		})
		b.Run(pattern+"/gopacket", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(in.bytes))
			var (
				eth     layers.Ethernet
				ip4     layers.IPv4
				tcp     layers.TCP
				decoded []gopacket.LayerType
			)
			parser := gopacket.NewDecodingLayerParser(layers.LayerTypeEthernet, &eth, &ip4, &tcp)
			parser.IgnoreUnsupported = true
			f := &gpFactory{}
			for b.Loop() {
				f.delivered = 0
				asm := reassembly.NewAssembler(reassembly.NewStreamPool(f))
				for i, frame := range in.frames {
					if err := parser.DecodeLayers(frame, &decoded); err != nil {
						b.Fatal(err)
					}
					ctx := &gpContext{ci: gopacket.CaptureInfo{Timestamp: in.times[i], CaptureLength: len(frame), Length: len(frame)}}
					asm.AssembleWithContext(ip4.NetworkFlow(), &tcp, ctx)
				}
				asm.FlushAll()
			}
			reportStreams(b, in, f.delivered)
		})
	}
}

// byteCounter is a session parser that counts the bytes it is fed.
type byteCounter struct{ n *int }

func (c byteCounter) Data(_ flowscope.Side, b []byte, _ int64, out []noRecord) []noRecord {
	*c.n += len(b)
	return out
}
func (c byteCounter) Gap(_ flowscope.Side, _ uint64, _ int64, out []noRecord) []noRecord { return out }
func (c byteCounter) End(_ *flowscope.FlowRecord, out []noRecord) []noRecord             { return out }

// noRecord is the record type of parsers that make none.
type noRecord struct{ flowscope.Record }

type gpContext struct{ ci gopacket.CaptureInfo }

func (c *gpContext) GetCaptureInfo() gopacket.CaptureInfo { return c.ci }

type gpFactory struct{ delivered int }

func (f *gpFactory) New(_, _ gopacket.Flow, _ *layers.TCP, _ reassembly.AssemblerContext) reassembly.Stream {
	return &gpStream{f: f}
}

type gpStream struct{ f *gpFactory }

func (s *gpStream) Accept(_ *layers.TCP, _ gopacket.CaptureInfo, _ reassembly.TCPFlowDirection, _ reassembly.Sequence, _ *bool, _ reassembly.AssemblerContext) bool {
	return true
}

func (s *gpStream) ReassembledSG(sg reassembly.ScatterGather, _ reassembly.AssemblerContext) {
	n, _ := sg.Lengths()
	s.f.delivered += n
}

func (s *gpStream) ReassemblyComplete(reassembly.AssemblerContext) bool { return true }
