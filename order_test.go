package flowscope

import (
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/flowscope-go/flowscope/flowkey"
	"github.com/flowscope-go/flowscope/internal/pcapgen"
)

// recorder writes what it sees as "side:bytes" lines.
type recorder struct {
	lines []string
	ended bool
}

func (r *recorder) Chunk(c *chunk) {
	if c.Gap > 0 {
		r.lines = append(r.lines, fmt.Sprintf("%v:gap %d", c.Side, c.Gap))
		return
	}
	r.lines = append(r.lines, fmt.Sprintf("%v:%s", c.Side, c.Bytes))
}

func (r *recorder) End(*FlowRecord) { r.ended = true }

// track runs pkts through a tracker whose connections' chunks go to h
// through an orderer.
func track(t *testing.T, pkts []pcapgen.Packet, h streamHandler) {
	t.Helper()
	tr := newTestTracker(flowkey.FiveTupleExtractor{}, &testConfig{
		NewStream: func(*FlowRecord) streamHandler { return newOrderer(h, nil) },
	})
	tr.trackAll(pkts)
}

func pk(ts time.Duration, src, dst netip.AddrPort, seq, ack uint32, flags uint8, p string) pcapgen.Packet {
	return pcapgen.Packet{TS: t0.Add(ts), Data: pcapgen.TCP(src, dst, seq, ack, flags, []byte(p))}
}

// TestCausalOrder: the response is captured before the request's last
// segment, but the conversation gives the whole request first.
func TestCausalOrder(t *testing.T) {
	const A, P = pcapgen.ACK, pcapgen.PSH | pcapgen.ACK
	req1, req2, resp := "GET / HTTP/1.1\r\n", "Host: x\r\n\r\n", "HTTP/1.1 200 OK\r\n\r\n"
	c0, s0 := uint32(100), uint32(5000)
	reqEnd := c0 + 1 + uint32(len(req1)+len(req2))
	ms := time.Millisecond
	pkts := []pcapgen.Packet{
		pk(0, cli, srv, c0, 0, pcapgen.SYN, ""),
		pk(1*ms, srv, cli, s0, c0+1, pcapgen.SYN|A, ""),
		pk(2*ms, cli, srv, c0+1, s0+1, A, ""),
		pk(3*ms, cli, srv, c0+1, s0+1, P, req1),
		// Captured out of order: the response acknowledges all of the
		// request, before the request's second segment shows up.
		pk(5*ms, srv, cli, s0+1, reqEnd, P, resp),
		pk(4*ms, cli, srv, c0+1+uint32(len(req1)), s0+1, P, req2),
		pk(6*ms, cli, srv, reqEnd, s0+1+uint32(len(resp)), A, ""),
	}
	var r recorder
	track(t, pkts, &r)
	want := []string{"orig:" + req1, "orig:" + req2, "resp:" + resp}
	if !slices.Equal(r.lines, want) || !r.ended {
		t.Errorf("conversation = %q (ended %v), want %q", r.lines, r.ended, want)
	}

	// Without the orderer the raw chunks come in capture order.
	var raw recorder
	newTestTracker(flowkey.FiveTupleExtractor{}, &testConfig{
		NewStream: func(*FlowRecord) streamHandler { return &raw },
	}).trackAll(pkts)
	if slices.Equal(raw.lines, want) {
		t.Errorf("raw chunks already in causal order; the test would prove nothing: %q", raw.lines)
	}
}

// TestTimeOrderWhenIndependent: chunks that do not acknowledge each
// other keep capture order across sides.
func TestTimeOrderWhenIndependent(t *testing.T) {
	pkts := pcapgen.TCPConn(pcapgen.Conn{Client: cli, Server: srv, Start: t0, Exchanges: 3, ReqSize: 5, RespSize: 7})
	var r recorder
	track(t, pkts, &r)
	var sides string
	for _, l := range r.lines {
		sides += l[:1]
	}
	if sides != "oror"+"or" {
		t.Errorf("sides in order %q, want alternating request/response", sides)
	}
}

// TestEndReleasesWaitingChunks: a chunk that acknowledges bytes never
// seen is still passed on when the connection ends.
func TestEndReleasesWaitingChunks(t *testing.T) {
	ms := time.Millisecond
	pkts := []pcapgen.Packet{
		pk(0, cli, srv, 1, 0, pcapgen.SYN, ""),
		pk(1*ms, srv, cli, 10, 2, pcapgen.SYN|pcapgen.ACK, ""),
		// The server acknowledges 100 bytes of request that were never
		// captured.
		pk(3*ms, srv, cli, 11, 102, pcapgen.PSH|pcapgen.ACK, "response"),
	}
	var r recorder
	track(t, pkts, &r)
	if len(r.lines) != 2 || r.lines[0] != "orig:gap 100" || r.lines[1] != "resp:response" {
		t.Errorf("conversation = %q, want the request gap then the response", r.lines)
	}
}

// TestOrdererBounded: chunks of one byte that acknowledge what never
// comes are held up to maxHeld counting each chunk's cost, not its byte
// alone, and up to the budget shared with the reassembler; what a bound
// let go out of order is counted in the record.
func TestOrdererBounded(t *testing.T) {
	for _, c := range []struct {
		name   string
		budget *reassembler
		limit  int
	}{
		{"per connection", nil, maxHeld},
		{"shared budget", &reassembler{budget: 50_000, used: 10_000}, 40_000},
	} {
		t.Run(c.name, func(t *testing.T) {
			var r recorder
			o := newOrderer(&r, c.budget)
			o.Chunk(&chunk{Side: Orig, Offset: 0, Bytes: []byte("0123456789"), Ack: 0})
			const n = 20_000
			for i := range n {
				o.Chunk(&chunk{Side: Resp, Offset: uint64(i), Bytes: []byte{'x'}, Ack: 100, Time: int64(i)})
				if o.held > c.limit+heldCost+1 {
					t.Fatalf("chunk %d: %d bytes held, bound %d", i, o.held, c.limit)
				}
			}
			var rec FlowRecord
			o.End(&rec)
			if len(r.lines) != n+1 || rec.Streams[Resp].Unordered == 0 || rec.Streams[Resp].Unordered > n {
				t.Errorf("%d chunks passed on, %d unordered; want %d, some", len(r.lines), rec.Streams[Resp].Unordered, n+1)
			}
			if c.budget != nil && c.budget.used != 10_000 {
				t.Errorf("budget used %d after the end, want the 10,000 it had", c.budget.used)
			}
		})
	}
}
