package main

import (
	"bufio"
	"container/heap"
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

// Mix is how many flows of each kind a workload has.
type Mix struct {
	DNSUDP, DNSTCP, HTTP, TLS12, TLS13, Bulk int
	// Duration is the span over which flows start.
	Duration time.Duration
}

// DefaultMix is the benchmark workload: about 2.2M packets in 106,040
// flows over five minutes.
var DefaultMix = Mix{DNSUDP: 64000, DNSTCP: 2000, HTTP: 24000, TLS12: 8000, TLS13: 8000, Bulk: 40, Duration: 5 * time.Minute}

// Scaled returns the mix with every count multiplied by f (at least one
// flow of each kind).
func (m Mix) Scaled(f float64) Mix {
	s := func(n int) int { return max(1, int(float64(n)*f)) }
	return Mix{s(m.DNSUDP), s(m.DNSTCP), s(m.HTTP), s(m.TLS12), s(m.TLS13), s(m.Bulk), m.Duration}
}

// Summary counts what a workload holds.
type Summary struct {
	Packets, Bytes                      int64
	Flows                               int
	HTTPExchanges, TLSHandshakes        int
	DNSQueries, DNSAnswered, DNSOverTCP int
	BulkBytes                           int64
	ClientIPv6Flows                     int
	First, Last                         time.Time
}

type kind uint8

const (
	kDNSUDP kind = iota
	kDNSTCP
	kHTTP
	kTLS12
	kTLS13
	kBulk
)

type flowSpec struct {
	kind  kind
	start int64
	seed  uint64
}

const (
	hosts   = 5000
	clients = 20000
)

var epoch = time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)

func clientAddr(rng *rand.Rand, v6 bool) netip.Addr {
	n := rng.IntN(clients)
	if v6 {
		var a [16]byte
		a[0] = 0xfd
		binary.BigEndian.PutUint32(a[12:], uint32(n)+1)
		return netip.AddrFrom16(a)
	}
	return netip.AddrFrom4([4]byte{10, byte(n >> 16), byte(n >> 8), byte(n)})
}

func serverAddr(n int, v6 bool) netip.Addr {
	if v6 {
		var a [16]byte
		copy(a[:], []byte{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0x80})
		binary.BigEndian.PutUint32(a[12:], uint32(n)+1)
		return netip.AddrFrom16(a)
	}
	return netip.AddrFrom4([4]byte{93, 184, byte(n >> 8), byte(n)})
}

func ephemeral(rng *rand.Rand) uint16 { return uint16(32768 + rng.IntN(28232)) }

// build returns the packets of one flow in capture order, and adds what
// it holds to sum.
func (f flowSpec) build(sum *Summary) []pkt {
	rng := rand.New(rand.NewPCG(f.seed, uint64(f.kind)))
	v6 := rng.IntN(10) == 0
	if v6 {
		sum.ClientIPv6Flows++
	}
	cliIP := clientAddr(rng, v6)
	hostN := int(min(hosts-1, rng.ExpFloat64()*hosts/6)) // popular hosts are popular
	switch f.kind {
	case kDNSUDP:
		resolver := netip.AddrPortFrom(netip.AddrFrom4([4]byte{192, 0, 2, byte(53 + rng.IntN(2))}), 53)
		if v6 {
			resolver = netip.AddrPortFrom(netip.MustParseAddr("2001:db8::53"), 53)
		}
		cli := netip.AddrPortFrom(cliIP, ephemeral(rng))
		q, r := dnsExchange(rng, hostN)
		sum.DNSQueries++
		out := []pkt{{f.start, frame(cli.Addr(), resolver.Addr(), 17, uint16(rng.Uint32()), udpHeader(cli.Port(), 53, len(q)), q)}}
		if r != nil {
			sum.DNSAnswered++
			lat := int64(300_000 + rng.ExpFloat64()*15e6)
			out = append(out, pkt{f.start + lat, frame(resolver.Addr(), cli.Addr(), 17, uint16(rng.Uint32()), udpHeader(53, cli.Port(), len(r)), r)})
		}
		return out
	case kDNSTCP:
		resolver := netip.AddrPortFrom(netip.AddrFrom4([4]byte{192, 0, 2, 53}), 53)
		if v6 {
			resolver = netip.AddrPortFrom(netip.MustParseAddr("2001:db8::53"), 53)
		}
		c := newTCPConn(rng, netip.AddrPortFrom(cliIP, ephemeral(rng)), resolver, f.start)
		c.handshake()
		for range 1 + rng.IntN(3) {
			q, r := dnsExchange(rng, hostN)
			if r == nil {
				_, r = dnsExchange(rng, hostN) // over TCP every query is answered
				for r == nil {
					_, r = dnsExchange(rng, hostN)
				}
			}
			sum.DNSQueries++
			sum.DNSAnswered++
			sum.DNSOverTCP++
			c.send(true, append(u16(len(q)), q...))
			c.t += 200_000 + int64(rng.ExpFloat64()*5e6)
			c.send(false, append(u16(len(r)), r...))
		}
		c.close(false)
		return c.packets()
	case kHTTP:
		port := uint16(80)
		if rng.IntN(10) == 0 {
			port = 8080
		}
		c := newTCPConn(rng, netip.AddrPortFrom(cliIP, ephemeral(rng)), netip.AddrPortFrom(serverAddr(hostN, v6), port), f.start)
		c.handshake()
		n := 1
		for n < 30 && rng.Float64() < 0.7 {
			n++
		}
		host := hostName(hostN)
		for i := range n {
			req, resp := httpExchange(rng, host, epoch.Add(time.Duration(c.t)), i == n-1)
			sum.HTTPExchanges++
			c.send(true, req)
			c.t += 300_000 + int64(rng.ExpFloat64()*8e6) // the server thinks
			c.send(false, resp)
			c.t += int64(rng.ExpFloat64() * 150e6) // the client thinks
		}
		if r := rng.IntN(100); r < 90 {
			c.close(r >= 85)
		}
		return c.packets()
	case kTLS12, kTLS13:
		c := newTCPConn(rng, netip.AddrPortFrom(cliIP, ephemeral(rng)), netip.AddrPortFrom(serverAddr(hostN, v6), 443), f.start)
		c.handshake()
		n := 1
		for n < 30 && rng.Float64() < 0.65 {
			n++
		}
		sum.TLSHandshakes++
		for _, fl := range tlsSession(rng, hostName(hostN), hostN, f.kind == kTLS13, n) {
			c.send(fl.fromClient, fl.data)
			c.t += 200_000 + int64(rng.ExpFloat64()*3e6)
		}
		if r := rng.IntN(100); r < 90 {
			c.close(r >= 85)
		}
		return c.packets()
	default: // bulk: one large transfer after a short request
		port := []uint16{873, 5001, 22}[rng.IntN(3)]
		c := newTCPConn(rng, netip.AddrPortFrom(cliIP, ephemeral(rng)), netip.AddrPortFrom(serverAddr(hostN, v6), port), f.start)
		c.handshake()
		c.send(true, randomBytes(rng, 64+rng.IntN(400)))
		size := (1 + rng.IntN(8)) << 20
		sum.BulkBytes += int64(size)
		c.t += 500_000
		c.send(rng.IntN(5) == 0, randomBytes(rng, size))
		c.close(false)
		return c.packets()
	}
}

// flowHeap orders flows in progress by their next packet's time.
type flowHeap []*flowCursor

type flowCursor struct {
	pkts []pkt
	i    int
	seq  int // the flow's start order: ties go to the earlier flow
}

func (h flowHeap) Len() int { return len(h) }
func (h flowHeap) Less(i, j int) bool {
	a, b := h[i].pkts[h[i].i].ts, h[j].pkts[h[j].i].ts
	return a < b || a == b && h[i].seq < h[j].seq
}
func (h flowHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *flowHeap) Push(x any)   { *h = append(*h, x.(*flowCursor)) }
func (h *flowHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// Generate writes the workload of mix m, seeded by seed, to w as a
// microsecond pcap of Ethernet frames. The same mix and seed give the same
// bytes. Flows are built when they start and dropped when done, so memory
// follows the flows in progress, not the size of the file.
func Generate(w io.Writer, m Mix, seed uint64) (Summary, error) {
	rng := rand.New(rand.NewPCG(seed, 0x776f726b6c6f6164))
	var specs []flowSpec
	add := func(k kind, n int, span time.Duration) {
		for range n {
			specs = append(specs, flowSpec{kind: k, start: rng.Int64N(int64(span)), seed: rng.Uint64()})
		}
	}
	add(kDNSUDP, m.DNSUDP, m.Duration)
	add(kDNSTCP, m.DNSTCP, m.Duration)
	add(kHTTP, m.HTTP, m.Duration)
	add(kTLS12, m.TLS12, m.Duration)
	add(kTLS13, m.TLS13, m.Duration)
	add(kBulk, m.Bulk, m.Duration*2/3)
	slices.SortStableFunc(specs, func(a, b flowSpec) int { return cmp64(a.start, b.start) })

	bw := bufio.NewWriterSize(w, 1<<20)
	pw := pcapgo.NewWriter(bw)
	if err := pw.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		return Summary{}, err
	}
	var sum Summary
	sum.Flows = len(specs)
	var h flowHeap
	next := 0
	for next < len(specs) || h.Len() > 0 {
		if next < len(specs) && (h.Len() == 0 || specs[next].start <= h[0].pkts[h[0].i].ts) {
			if p := specs[next].build(&sum); len(p) > 0 {
				heap.Push(&h, &flowCursor{pkts: p, seq: next})
			}
			next++
			continue
		}
		c := h[0]
		p := c.pkts[c.i]
		ts := epoch.Add(time.Duration(p.ts)).Truncate(time.Microsecond)
		if sum.Packets == 0 {
			sum.First = ts
		}
		sum.Last = ts
		sum.Packets++
		sum.Bytes += int64(len(p.data))
		ci := gopacket.CaptureInfo{Timestamp: ts, CaptureLength: len(p.data), Length: len(p.data)}
		if err := pw.WritePacket(ci, p.data); err != nil {
			return sum, err
		}
		c.pkts[c.i].data = nil
		if c.i++; c.i == len(c.pkts) {
			heap.Pop(&h)
		} else {
			heap.Fix(&h, 0)
		}
	}
	return sum, bw.Flush()
}
