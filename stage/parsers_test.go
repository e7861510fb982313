package stage_test

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/flowscope-go/flowscope"
	"github.com/flowscope-go/flowscope/flowkey"
	"github.com/flowscope-go/flowscope/parsers/http1"
	"github.com/flowscope-go/flowscope/sample"
	"github.com/flowscope-go/flowscope/sink"
	"github.com/flowscope-go/flowscope/source"
	"github.com/flowscope-go/flowscope/stage"
)

// sizes is the record of dgramCounter: a UDP flow's datagram sizes.
type sizes struct {
	conn  *flowscope.Conn
	sizes []int
}

var sizesSchema = flowscope.ConnSchema("sizes", flowscope.Field{Name: "n", Type: flowscope.TypeCount})

func (s *sizes) Schema() *flowscope.Schema { return sizesSchema }
func (s *sizes) AppendValues(vs []flowscope.Value) []flowscope.Value {
	return append(s.conn.AppendValues(vs, s.conn.Start), flowscope.CountValue(uint64(len(s.sizes))))
}

// dgramCounter is a DatagramParser that reports each flow's datagram
// sizes at its end.
type dgramCounter struct{ s *sizes }

func (d dgramCounter) Datagram(_ flowscope.Side, p []byte, _ int64, out []*sizes) []*sizes {
	d.s.sizes = append(d.s.sizes, len(p))
	return out
}

func (d dgramCounter) End(_ *flowscope.FlowRecord, out []*sizes) []*sizes { return append(out, d.s) }

// TestTrackParsers runs a session and a datagram parser on every flow of
// the sample, and takes each one's records out of the output by type:
// the same on one shard and on three, each after its conn record's start
// and before its end.
func TestTrackParsers(t *testing.T) {
	noLeaks(t)
	run := func(workers int) []string {
		src, err := source.NewReader(sample.Name, bytes.NewReader(sample.Capture))
		if err != nil {
			t.Fatal(err)
		}
		g := stage.New(nil)
		recs, _ := stage.Track(g, "track", flowkey.FiveTupleExtractor{}, &stage.TrackConfig{Workers: workers, Driver: flowscope.Config{
			Parsers: []flowscope.Parser{
				flowscope.Session(http1.Parser{}),
				flowscope.Datagram(flowscope.DatagramFactoryFunc[*sizes](func(c *flowscope.Conn) flowscope.DatagramParser[*sizes] {
					return dgramCounter{&sizes{conn: c}}
				})),
			}}}, stage.FromSource(g, "read", src))
		txs, rest := stage.Select[*http1.Transaction](g, "http", recs)
		dgrams, conns := stage.Select[*sizes](g, "sizes", rest)
		// Each sink runs in a stage of its own: each keeps its own list.
		var gotTx, gotDgram []string
		ended := map[string]bool{}
		stage.To(g, "http", txs, sink.Func[*http1.Transaction](func(_ context.Context, txs []*http1.Transaction) error {
			for _, tx := range txs {
				gotTx = append(gotTx, fmt.Sprintf("%s %s %d", tx.Conn.UID, tx.Request.Target, tx.Response.Status))
			}
			return nil
		}))
		stage.To(g, "sizes", dgrams, sink.Func[*sizes](func(_ context.Context, ss []*sizes) error {
			for _, s := range ss {
				gotDgram = append(gotDgram, fmt.Sprintf("%s port %d: %v", s.conn.UID, s.conn.Resp.Port(), s.sizes))
			}
			return nil
		}))
		stage.To(g, "conns", conns, sink.Func[flowscope.Record](func(_ context.Context, rs []flowscope.Record) error {
			for _, r := range rs {
				ended[r.(*flowscope.FlowRecord).UID()] = true
			}
			return nil
		}))
		if err := g.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		got := append(gotTx, gotDgram...)
		slices.Sort(got)
		for _, g := range got {
			if uid := g[:18]; !ended[uid] {
				t.Errorf("%s: no conn record with its uid", g)
			}
		}
		return got
	}
	one := run(1)
	// 5 HTTP transactions (the DNS-over-TCP connection is not HTTP and is
	// given up on) and 3 UDP DNS flows of one query and one answer each.
	var http, udp int
	for _, g := range one {
		if bytes.Contains([]byte(g), []byte("port 53")) {
			udp++
		} else {
			http++
		}
	}
	if http != 5 || udp != 3 {
		t.Errorf("%d http, %d udp records, want 5 and 3:\n%v", http, udp, one)
	}
	if three := run(3); !slices.Equal(one, three) {
		t.Errorf("records differ between 1 and 3 workers")
	}
}
