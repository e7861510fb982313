package stage_test

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/flowscope-go/flowscope"
	"github.com/flowscope-go/flowscope/internal/sample"
	"github.com/flowscope-go/flowscope/parsers/http1"
	"github.com/flowscope-go/flowscope/sink"
	"github.com/flowscope-go/flowscope/source"
	"github.com/flowscope-go/flowscope/stage"
)

// message is what the test's parsers produce: an HTTP transaction or a
// datagram summary.
type message struct {
	tx    *http1.Transaction
	dgram string
}

// dgramCounter is a DatagramParser that reports each flow's datagram
// count and sizes at its end.
type dgramCounter struct{ sizes []int }

func (d *dgramCounter) Datagram(s flowscope.Side, p []byte, ts int64, out []message) []message {
	d.sizes = append(d.sizes, len(p))
	return out
}

func (d *dgramCounter) End(rec *flowscope.FlowRecord, out []message) []message {
	return append(out, message{dgram: fmt.Sprintf("port %d: %v", rec.Resp.Port, d.sizes)})
}

func TestTrackParsers(t *testing.T) {
	noLeaks(t)
	run := func(workers int) []string {
		src, err := source.NewReader(sample.Name, bytes.NewReader(sample.Capture))
		if err != nil {
			t.Fatal(err)
		}
		sessions := flowscope.SessionFactoryFunc[message](func(rec *flowscope.FlowRecord) flowscope.SessionParser[message] {
			return httpAdapter{http1.Parser{}.NewSession(rec)}
		})
		datagrams := flowscope.DatagramFactoryFunc[message](func(*flowscope.FlowRecord) flowscope.DatagramParser[message] {
			return &dgramCounter{}
		})
		g := stage.New(nil)
		flows, msgs, _ := stage.TrackParsers(g, "track", stage.FromSource(g, "read", src), workers, nil, sessions, datagrams)
		var got []string
		stage.ToPair(g, "collect", flows, msgs,
			sink.Func[flowscope.FlowEvent](func(context.Context, []flowscope.FlowEvent) error { return nil }),
			sink.Func[stage.Parsed[message]](func(_ context.Context, ms []stage.Parsed[message]) error {
				for _, m := range ms {
					if m.Msg.tx != nil {
						got = append(got, fmt.Sprintf("%s %s %d", m.Flow.UID(), m.Msg.tx.Request.Target, m.Msg.tx.Response.Status))
					} else {
						got = append(got, m.Flow.UID()+" "+m.Msg.dgram)
					}
				}
				return nil
			}))
		if err := g.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		slices.Sort(got)
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
		t.Errorf("%d http, %d udp messages, want 5 and 3:\n%v", http, udp, one)
	}
	if three := run(3); !slices.Equal(one, three) {
		t.Errorf("messages differ between 1 and 3 workers")
	}
}

type httpAdapter struct {
	p flowscope.SessionParser[*http1.Transaction]
}

func (a httpAdapter) wrap(in []*http1.Transaction, out []message) []message {
	for _, tx := range in {
		out = append(out, message{tx: tx})
	}
	return out
}

func (a httpAdapter) Data(s flowscope.Side, b []byte, ts int64, out []message) []message {
	return a.wrap(a.p.Data(s, b, ts, nil), out)
}

func (a httpAdapter) Gap(s flowscope.Side, n uint64, ts int64, out []message) []message {
	return a.wrap(a.p.Gap(s, n, ts, nil), out)
}

func (a httpAdapter) End(rec *flowscope.FlowRecord, out []message) []message {
	return a.wrap(a.p.End(rec, nil), out)
}
