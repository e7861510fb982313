// Package bench holds whole-path benchmarks of flowscope on a generated
// capture of over a million packets, each measured beside a baseline in
// the same run. See bench/run.sh and bench/README.md.
package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gopacket/gopacket/pcapgo"

	"github.com/flowscope-go/flowscope"
	"github.com/flowscope-go/flowscope/flowkey"
	"github.com/flowscope-go/flowscope/internal/pcapgen"
	"github.com/flowscope-go/flowscope/parsers/http1"
	"github.com/flowscope-go/flowscope/sink"
	"github.com/flowscope-go/flowscope/source"
	"github.com/flowscope-go/flowscope/stage"
)

// The generated capture: benchFlows TCP connections of benchExchanges
// request/response pairs each, interleaved over ten minutes.
const (
	benchFlows     = 12_500
	benchExchanges = 28
	benchPackets   = benchFlows * (6 + 3*benchExchanges) // 1,125,000
)

var (
	captureOnce sync.Once
	capturePath string
	captureErr  error
)

// capture returns the path of the benchmark capture, generating it into
// the temporary directory on first use (about 170 MB; kept between runs).
func capture(b *testing.B) string {
	captureOnce.Do(func() {
		capturePath = filepath.Join(os.TempDir(), fmt.Sprintf("flowscope-bench-%d.pcap", benchPackets))
		if st, err := os.Stat(capturePath); err == nil && st.Size() > 0 {
			return
		}
		var all []pcapgen.Packet
		base := time.Unix(1_700_000_000, 0)
		for i := range benchFlows {
			cli := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), uint16(1024+i%60000))
			srv := netip.AddrPortFrom(netip.AddrFrom4([4]byte{192, 0, 2, byte(i % 50)}), 80)
			all = append(all, pcapgen.TCPConn(pcapgen.Conn{
				Client: cli, Server: srv, Start: base.Add(time.Duration(i) * 48 * time.Millisecond),
				Exchanges: benchExchanges, ReqSize: 64, RespSize: 200, Gap: 100 * time.Millisecond,
			})...)
		}
		slices.SortStableFunc(all, func(a, b pcapgen.Packet) int { return a.TS.Compare(b.TS) })
		tmp := capturePath + ".tmp"
		f, err := os.Create(tmp)
		if err != nil {
			captureErr = err
			return
		}
		w := bufio.NewWriterSize(f, 1<<20)
		if err := pcapgen.WritePcap(w, all); err != nil {
			captureErr = err
		} else if err := w.Flush(); err != nil {
			captureErr = err
		}
		f.Close()
		if captureErr == nil {
			captureErr = os.Rename(tmp, capturePath)
		}
	})
	if captureErr != nil {
		b.Fatal(captureErr)
	}
	return capturePath
}

func perPacket(b *testing.B, packets int) {
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*packets), "ns/pkt")
}

// BenchmarkPcapgoRead is the baseline: a plain zero-copy pcapgo read of
// the whole file, nothing else.
func BenchmarkPcapgoRead(b *testing.B) {
	path := capture(b)
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		f, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		r, err := pcapgo.NewReader(bufio.NewReaderSize(f, 1<<20))
		if err != nil {
			b.Fatal(err)
		}
		n = 0
		for {
			_, _, err := r.ZeroCopyReadPacketData()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			n++
		}
		f.Close()
	}
	if n != benchPackets {
		b.Fatalf("read %d packets, want %d", n, benchPackets)
	}
	perPacket(b, n)
}

// BenchmarkSourceRead is the file source alone: pcapgo's zero-copy read
// plus the copy of each packet into its batch.
func BenchmarkSourceRead(b *testing.B) {
	path := capture(b)
	b.ReportAllocs()
	var batch source.Batch
	n := 0
	for b.Loop() {
		src, err := source.OpenFiles(path)
		if err != nil {
			b.Fatal(err)
		}
		n = 0
		for {
			err := src.ReadBatch(context.Background(), &batch)
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			n += len(batch.Packets)
		}
		src.Close()
	}
	if n != benchPackets {
		b.Fatalf("read %d packets, want %d", n, benchPackets)
	}
	perPacket(b, n)
}

// BenchmarkReadDecodeTrack is the flow-tracking path on one core: the
// file source's batches, decoding, 5-tuple keying and a Driver without
// parsers (the tracker, and the TCP reassembly that counts missed bytes).
// The Driver is reused across passes, as a long-running one would be, so
// the figures show the steady state.
func BenchmarkReadDecodeTrack(b *testing.B) {
	path := capture(b)
	tr := flowscope.NewDriver(flowkey.FiveTupleExtractor{}, nil)
	evs := make([]flowscope.Record, 0, 1024)
	var batch source.Batch
	pass := func() (n, flows int) {
		src, err := source.OpenFiles(path)
		if err != nil {
			b.Fatal(err)
		}
		for {
			err := src.ReadBatch(context.Background(), &batch)
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			for i := range batch.Packets {
				evs = tr.Track(&batch.Packets[i], evs[:0])
				flows += len(evs)
			}
			n += len(batch.Packets)
		}
		src.Close()
		evs = tr.Flush(flowscope.EndOfInput, evs[:0])
		return n, flows + len(evs)
	}
	pass() // warm the flow table's memory
	b.ReportAllocs()
	b.ResetTimer()
	var n, flows int
	for b.Loop() {
		n, flows = pass()
	}
	if n != benchPackets || flows != benchFlows {
		b.Fatalf("%d packets, %d flows; want %d, %d", n, flows, benchPackets, benchFlows)
	}
	perPacket(b, n)
}

// BenchmarkPipeline runs the whole command path: file source, stage
// graph, flow tracking with TCP reassembly (as the command always does) on
// W workers, Zeek JSON encoding to io.Discard.
func BenchmarkPipeline(b *testing.B) {
	path := capture(b)
	for _, workers := range []int{1, 2} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			b.ReportAllocs()
			var packets uint64
			for b.Loop() {
				src, err := source.OpenFiles(path)
				if err != nil {
					b.Fatal(err)
				}
				g := stage.New(nil)
				recs, stats := stage.Track(g, "track", flowkey.FiveTupleExtractor{}, &stage.TrackConfig{Workers: workers},
					stage.FromSource(g, "read", src))
				stage.To(g, "write", recs, sink.NewLines(io.Discard, &sink.ZeekJSON{}))
				if err := g.Run(context.Background()); err != nil {
					b.Fatal(err)
				}
				src.Close()
				packets = stats.Stats().Packets
			}
			perPacket(b, int(packets))
		})
	}
}

// BenchmarkShardScaling is the trackers' work alone (decoding, flow
// table, TCP reassembly, HTTP parsing) on the HTTP capture, packets split among W trackers by
// the partition's hash and tracked at once, from packets already read
// into memory: how the shards themselves scale, without the reading and
// writing stages that share the cores in the command.
func BenchmarkShardScaling(b *testing.B) {
	path := httpCapture(b)
	src, err := source.OpenFiles(path)
	if err != nil {
		b.Fatal(err)
	}
	var all []flowscope.Packet
	for {
		var batch source.Batch
		err := src.ReadBatch(context.Background(), &batch)
		all = append(all, batch.Packets...) // each batch keeps its own buffer
		if err == io.EOF {
			break
		}
		if err != nil {
			b.Fatal(err)
		}
	}
	src.Close()
	for _, workers := range []int{1, 2} {
		shards := make([][]*flowscope.Packet, workers)
		var dec flowkey.Decoder
		var d flowkey.Decoded
		for i := range all {
			_ = dec.Decode(all[i].LinkType, all[i].Data, &d)
			h, _ := flowkey.PairHash(&d)
			s := int(h % uint64(workers))
			shards[s] = append(shards[s], &all[i])
		}
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			var txs atomic.Int64
			trackers := make([]*flowscope.Driver[flowkey.FiveTuple], workers)
			for i := range trackers {
				cfg := flowscope.Config{Parsers: []flowscope.Parser{flowscope.Session(http1.Parser{})}}
				trackers[i] = flowscope.NewDriver(flowkey.FiveTupleExtractor{}, &cfg)
			}
			// One pass over the capture: every shard's trackers, at once.
			pass := func() {
				txs.Store(0)
				var wg sync.WaitGroup
				for i, pkts := range shards {
					wg.Go(func() {
						tr := trackers[i]
						recs := make([]flowscope.Record, 0, 1024)
						count := func() {
							for _, r := range recs {
								if _, ok := r.(*http1.Transaction); ok {
									txs.Add(1)
								}
							}
						}
						for _, p := range pkts {
							recs = tr.Track(p, recs[:0])
							count()
						}
						recs = tr.Flush(flowscope.EndOfInput, recs[:0])
						count()
					})
				}
				wg.Wait()
			}
			// The trackers are kept across passes, as long-running ones
			// would be: the first pass warms their memory, the rest are
			// the steady state.
			pass()
			b.ResetTimer()
			for b.Loop() {
				pass()
			}
			if n := txs.Load(); n != httpConns*httpExchanges {
				b.Fatalf("%d HTTP transactions, want %d", n, httpConns*httpExchanges)
			}
			perPacket(b, len(all))
		})
	}
}
