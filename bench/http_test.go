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
	"testing"
	"time"

	"github.com/flowscope-go/flowscope/internal/analyze"
	"github.com/flowscope-go/flowscope/internal/pcapgen"
	"github.com/flowscope-go/flowscope/source"
)

const (
	httpConns     = 10_000
	httpExchanges = 10
	httpPackets   = httpConns * (6 + 2*httpExchanges)
)

var (
	httpOnce sync.Once
	httpPath string
	httpErr  error
)

// httpCapture generates (once, into the temporary directory) a capture of
// 10,000 keep-alive HTTP connections of 10 GET/200 exchanges each.
func httpCapture(b *testing.B) string {
	httpOnce.Do(func() {
		httpPath = filepath.Join(os.TempDir(), fmt.Sprintf("flowscope-bench-http-%d.pcap", httpPackets))
		if st, err := os.Stat(httpPath); err == nil && st.Size() > 0 {
			return
		}
		req := []byte("GET /static/app.js?v=3 HTTP/1.1\r\nHost: www.example.com\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0\r\nAccept: */*\r\nConnection: keep-alive\r\n\r\n")
		resp := []byte("HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Type: application/javascript\r\nContent-Length: 600\r\n\r\n" + string(make([]byte, 600)))
		srv := netip.MustParseAddrPort("192.0.2.80:80")
		base := time.Unix(1_700_000_000, 0)
		var all []pcapgen.Packet
		for i := range httpConns {
			cli := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 9, byte(i >> 8), byte(i)}), uint16(20000+i%40000))
			ts := base.Add(time.Duration(i) * 10 * time.Millisecond)
			add := func(f []byte) {
				all = append(all, pcapgen.Packet{TS: ts, Data: f})
				ts = ts.Add(5 * time.Millisecond)
			}
			c, s := uint32(i*7919), uint32(i*104729)
			add(pcapgen.TCP(cli, srv, c, 0, pcapgen.SYN, nil))
			add(pcapgen.TCP(srv, cli, s, c+1, pcapgen.SYN|pcapgen.ACK, nil))
			c, s = c+1, s+1
			add(pcapgen.TCP(cli, srv, c, s, pcapgen.ACK, nil))
			for range httpExchanges {
				add(pcapgen.TCP(cli, srv, c, s, pcapgen.PSH|pcapgen.ACK, req))
				c += uint32(len(req))
				add(pcapgen.TCP(srv, cli, s, c, pcapgen.PSH|pcapgen.ACK, resp))
				s += uint32(len(resp))
			}
			add(pcapgen.TCP(cli, srv, c, s, pcapgen.FIN|pcapgen.ACK, nil))
			add(pcapgen.TCP(srv, cli, s, c+1, pcapgen.FIN|pcapgen.ACK, nil))
			add(pcapgen.TCP(cli, srv, c+1, s+1, pcapgen.ACK, nil))
		}
		slices.SortStableFunc(all, func(a, b pcapgen.Packet) int { return a.TS.Compare(b.TS) })
		tmp := httpPath + ".tmp"
		f, err := os.Create(tmp)
		if err != nil {
			httpErr = err
			return
		}
		w := bufio.NewWriterSize(f, 1<<20)
		if httpErr = pcapgen.WritePcap(w, all); httpErr == nil {
			httpErr = w.Flush()
		}
		f.Close()
		if httpErr == nil {
			httpErr = os.Rename(tmp, httpPath)
		}
	})
	if httpErr != nil {
		b.Fatal(httpErr)
	}
	return httpPath
}

// BenchmarkAnalyzeHTTP is the command's whole job (analyze.Run, one
// worker) on an HTTP capture, with the HTTP parser on and off: the
// ratio of the two is the cost of parsing HTTP.
func BenchmarkAnalyzeHTTP(b *testing.B) {
	path := httpCapture(b)
	for _, protocols := range []string{"none", "http"} {
		b.Run("protocols="+protocols, func(b *testing.B) {
			_, err := analyze.Parsers(protocols)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			var packets uint64
			for b.Loop() {
				src, err := source.OpenFiles(path)
				if err != nil {
					b.Fatal(err)
				}
				st, err := analyze.Run(context.Background(), src, io.Discard, analyze.Options{Workers: 1, Protocols: protocols})
				if err != nil {
					b.Fatal(err)
				}
				src.Close()
				packets = st.Packets
			}
			if packets != httpPackets {
				b.Fatalf("%d packets, want %d", packets, httpPackets)
			}
			b.ReportMetric(float64(b.N)*float64(packets)/b.Elapsed().Seconds(), "pkts/s")
			b.ReportMetric(float64(b.N*httpConns*httpExchanges)/b.Elapsed().Seconds(), "req/s")
		})
	}
}
