package conversation_test

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/flowscope-go/flowscope"
	"github.com/flowscope-go/flowscope/conversation"
	"github.com/flowscope-go/flowscope/flowkey"
	"github.com/flowscope-go/flowscope/internal/pcapgen"
	"github.com/flowscope-go/flowscope/recordtest"
	"github.com/flowscope-go/flowscope/sample"
	"github.com/flowscope-go/flowscope/sink"
	"github.com/flowscope-go/flowscope/source"
	"github.com/flowscope-go/flowscope/stage"
)

var (
	cli = netip.MustParseAddrPort("10.0.0.1:40000")
	srv = netip.MustParseAddrPort("10.0.0.2:80")
	t0  = time.Unix(1_700_000_000, 0)
)

func pk(ts time.Duration, src, dst netip.AddrPort, seq, ack uint32, flags uint8, p string) pcapgen.Packet {
	return pcapgen.Packet{TS: t0.Add(ts), Data: pcapgen.TCP(src, dst, seq, ack, flags, []byte(p))}
}

// events runs pkts through a Driver with the conversation parser and
// returns its events as "kind side offset data" lines.
func events(t *testing.T, pkts []pcapgen.Packet) []string {
	t.Helper()
	d := flowscope.NewDriver(flowkey.FiveTupleExtractor{}, &flowscope.Config{
		Parsers: []flowscope.Parser{flowscope.Session(conversation.Parser{})}})
	var recs []flowscope.Record
	for _, p := range pkts {
		pk := flowscope.Packet{Data: p.Data, Time: p.TS.UnixNano(), LinkType: flowkey.LinkEthernet}
		recs = d.Track(&pk, recs)
	}
	recs = d.Flush(flowscope.EndOfInput, recs)
	recordtest.Check(t, recs...)
	var out []string
	for _, r := range recs {
		e, ok := r.(*conversation.Event)
		if !ok {
			continue
		}
		switch e.Kind {
		case conversation.Data:
			out = append(out, fmt.Sprintf("data %v %d %s", e.Side, e.Offset, e.Bytes))
		case conversation.Gap:
			out = append(out, fmt.Sprintf("gap %v %d %d", e.Side, e.Offset, e.Gap))
		case conversation.End:
			out = append(out, "end "+e.Record.Reason.String())
		}
	}
	return out
}

// TestCausalOrder: the response is captured before the request's last
// segment, but the conversation gives the whole request first, with each
// side's offsets counting that side's bytes.
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
	want := []string{"data orig 0 " + req1, fmt.Sprintf("data orig %d %s", len(req1), req2), "data resp 0 " + resp, "end end_of_input"}
	if got := events(t, pkts); !slices.Equal(got, want) {
		t.Errorf("conversation = %q, want %q", got, want)
	}
}

// TestGapEvents: bytes that were never captured are a gap event at their
// offset; the bytes after them come at the offset after the gap.
func TestGapEvents(t *testing.T) {
	ms := time.Millisecond
	pkts := []pcapgen.Packet{
		pk(0, cli, srv, 1, 0, pcapgen.SYN, ""),
		pk(1*ms, srv, cli, 10, 2, pcapgen.SYN|pcapgen.ACK, ""),
		pk(2*ms, cli, srv, 2, 11, pcapgen.PSH|pcapgen.ACK, "abc"),
		// 100 bytes of request lost, then more of it, acknowledged.
		pk(3*ms, cli, srv, 105, 11, pcapgen.PSH|pcapgen.ACK, "xyz"),
		pk(4*ms, srv, cli, 11, 108, pcapgen.PSH|pcapgen.ACK, "response"),
	}
	want := []string{"data orig 0 abc", "gap orig 3 100", "data orig 103 xyz", "data resp 0 response", "end end_of_input"}
	if got := events(t, pkts); !slices.Equal(got, want) {
		t.Errorf("conversation = %q, want %q", got, want)
	}
}

// TestTrackStage runs the conversation parser in a tracking stage on the
// embedded sample and checks every connection's events: requests before
// responses, ends last, the same with one worker and three.
func TestTrackStage(t *testing.T) {
	run := func(workers int) []string {
		src, err := source.NewReader(sample.Name, bytes.NewReader(sample.Capture))
		if err != nil {
			t.Fatal(err)
		}
		g := stage.New(nil)
		recs, _ := stage.Track(g, "track", flowkey.FiveTupleExtractor{}, &stage.TrackConfig{Workers: workers,
			Driver: flowscope.Config{Parsers: []flowscope.Parser{flowscope.Session(conversation.Parser{})}}},
			stage.FromSource(g, "read", src))
		convs, rest := stage.Select[*conversation.Event](g, "select", recs)
		stage.Drop(g, "flows", rest)
		per := map[string]*strings.Builder{}
		var order []string
		stage.To(g, "convs", convs, sink.Func[*conversation.Event](func(_ context.Context, evs []*conversation.Event) error {
			for _, e := range evs {
				b := per[e.Conn.UID]
				if b == nil {
					b = &strings.Builder{}
					per[e.Conn.UID] = b
					order = append(order, e.Conn.UID)
				}
				switch e.Kind {
				case conversation.Data:
					fmt.Fprintf(b, "%v %d %q|", e.Side, e.Offset, e.Bytes)
				case conversation.Gap:
					fmt.Fprintf(b, "%v gap %d|", e.Side, e.Gap)
				case conversation.End:
					fmt.Fprintf(b, "end %v", e.Record.Reason)
				}
			}
			return nil
		}))
		if err := g.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, uid := range order {
			out = append(out, uid+" "+per[uid].String())
		}
		slices.Sort(out)
		return out
	}
	one := run(1)
	if len(one) != 5 {
		t.Fatalf("%d conversations, want the sample's 5 TCP connections", len(one))
	}
	for _, c := range one {
		if !strings.HasSuffix(c, "end fin") || !strings.Contains(c, ` orig 0 "`) {
			t.Errorf("conversation %.200s", c)
		}
		if i, j := strings.Index(c, "orig 0"), strings.Index(c, "resp 0"); i < 0 || j < i {
			t.Errorf("response before request: %.200s", c)
		}
	}
	if three := run(3); !slices.Equal(one, three) {
		t.Errorf("conversations differ between 1 and 3 workers")
	}
}
