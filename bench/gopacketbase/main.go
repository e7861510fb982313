// Command gopacketbase is the comparison point for bench/compare.sh: what
// a Go programmer writes today with gopacket to get HTTP requests and
// responses and DNS messages out of a capture, following gopacket's
// httpassembly example: gopacket.NewPacket on every packet, tcpassembly
// with a tcpreader stream and a goroutine per stream parsing with
// net/http, DNS from the decoded layer. It prints one line per HTTP
// message and DNS message, and a count of TCP and UDP flows.
//
//	go run ./bench/gopacketbase capture.pcap > out.txt
package main

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"github.com/gopacket/gopacket/tcpassembly"
	"github.com/gopacket/gopacket/tcpassembly/tcpreader"
)

type output struct {
	mu sync.Mutex
	w  *bufio.Writer
}

func (o *output) printf(format string, args ...any) {
	o.mu.Lock()
	fmt.Fprintf(o.w, format, args...)
	o.mu.Unlock()
}

type factory struct {
	out *output
	wg  sync.WaitGroup
}

func (f *factory) New(netFlow, tcpFlow gopacket.Flow) tcpassembly.Stream {
	r := tcpreader.NewReaderStream()
	src, dst := tcpFlow.Endpoints()
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		b := bufio.NewReader(&r)
		switch {
		case dst.String() == "80" || dst.String() == "8080":
			for {
				req, err := http.ReadRequest(b)
				if err == io.EOF {
					return
				}
				if err != nil {
					tcpreader.DiscardBytesToEOF(b)
					return
				}
				n := tcpreader.DiscardBytesToEOF(req.Body)
				req.Body.Close()
				f.out.printf("http request %v %v %s %s %s %d\n", netFlow, tcpFlow, req.Method, req.Host, req.URL, n)
			}
		case src.String() == "80" || src.String() == "8080":
			for {
				resp, err := http.ReadResponse(b, nil)
				if err == io.EOF || err == io.ErrUnexpectedEOF {
					return
				}
				if err != nil {
					tcpreader.DiscardBytesToEOF(b)
					return
				}
				n := tcpreader.DiscardBytesToEOF(resp.Body)
				resp.Body.Close()
				f.out.printf("http response %v %v %d %d\n", netFlow, tcpFlow, resp.StatusCode, n)
			}
		default:
			tcpreader.DiscardBytesToEOF(b)
		}
	}()
	return &r
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: gopacketbase capture.pcap")
		os.Exit(2)
	}
	f, err := os.Open(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer f.Close()
	r, err := pcapgo.NewReader(bufio.NewReaderSize(f, 1<<20))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	out := &output{w: bufio.NewWriterSize(os.Stdout, 1<<16)}
	fac := &factory{out: out}
	asm := tcpassembly.NewAssembler(tcpassembly.NewStreamPool(fac))
	flows := map[uint64]bool{}
	var packets int
	var lastFlush time.Time
	src := gopacket.NewPacketSource(r, r.LinkType())
	for {
		p, err := src.NextPacket()
		if err == io.EOF {
			break
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			break
		}
		packets++
		nl, tl := p.NetworkLayer(), p.TransportLayer()
		if nl == nil || tl == nil {
			continue
		}
		flows[nl.NetworkFlow().FastHash()^tl.TransportFlow().FastHash()] = true
		ts := p.Metadata().Timestamp
		switch t := tl.(type) {
		case *layers.TCP:
			asm.AssembleWithTimestamp(nl.NetworkFlow(), t, ts)
		case *layers.UDP:
			if d, ok := p.Layer(layers.LayerTypeDNS).(*layers.DNS); ok {
				name := ""
				if len(d.Questions) > 0 {
					name = string(d.Questions[0].Name)
				}
				out.printf("dns %v %d %v %s %v %d\n", nl.NetworkFlow(), d.ID, d.QR, name, d.ResponseCode, len(d.Answers))
			}
		}
		// Flush streams idle for two minutes of packet time, once a minute.
		if ts.Sub(lastFlush) > time.Minute {
			asm.FlushOlderThan(ts.Add(-2 * time.Minute))
			lastFlush = ts
		}
	}
	asm.FlushAll()
	fac.wg.Wait()
	out.printf("%d packets, %d flows\n", packets, len(flows))
	out.w.Flush()
}
