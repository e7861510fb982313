package flowscope_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/flowscope-go/flowscope"
	"github.com/flowscope-go/flowscope/conversation"
	"github.com/flowscope-go/flowscope/flowkey"
	"github.com/flowscope-go/flowscope/internal/pcapgen"
	"github.com/flowscope-go/flowscope/parsers"
	"github.com/flowscope-go/flowscope/parsers/dnsmsg"
	"github.com/flowscope-go/flowscope/parsers/http1"
	"github.com/flowscope-go/flowscope/sample"
	"github.com/flowscope-go/flowscope/source"
)

// reorderConn is a keep-alive HTTP connection of several exchanges,
// responses of several segments, in capture order.
func reorderConn() []pcapgen.Packet {
	cli := netip.MustParseAddrPort("10.1.0.1:41000")
	srv := netip.MustParseAddrPort("10.1.0.2:80")
	var pkts []pcapgen.Packet
	ts := time.Unix(1_800_000_000, 0)
	add := func(src, dst netip.AddrPort, seq, ack uint32, flags uint8, p []byte) {
		ts = ts.Add(time.Millisecond)
		pkts = append(pkts, pcapgen.Packet{TS: ts, Data: pcapgen.TCP(src, dst, seq, ack, flags, p)})
	}
	c, s := uint32(1000), uint32(50000)
	add(cli, srv, c, 0, pcapgen.SYN, nil)
	add(srv, cli, s, c+1, pcapgen.SYN|pcapgen.ACK, nil)
	c, s = c+1, s+1
	add(cli, srv, c, s, pcapgen.ACK, nil)
	for i := range 4 {
		req := []byte(fmt.Sprintf("GET /%d HTTP/1.1\r\nHost: h\r\nUser-Agent: reorder-test/%d\r\n\r\n", i, i))
		// The request in two segments, so that the client side has data
		// segments to swap too.
		add(cli, srv, c, s, pcapgen.ACK, req[:20])
		add(cli, srv, c+20, s, pcapgen.PSH|pcapgen.ACK, req[20:])
		c += uint32(len(req))
		add(srv, cli, s, c, pcapgen.ACK, nil)
		body := strings.Repeat(fmt.Sprintf("body %d ", i), 600)
		resp := []byte(fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(body), body))
		for off := 0; off < len(resp); off += pcapgen.MSS {
			seg := resp[off:min(off+pcapgen.MSS, len(resp))]
			add(srv, cli, s, c, pcapgen.PSH|pcapgen.ACK, seg)
			s += uint32(len(seg))
			// The client acknowledges every other segment, and the last.
			if (off/pcapgen.MSS)%2 == 1 || off+len(seg) == len(resp) {
				add(cli, srv, c, s, pcapgen.ACK, nil)
			}
		}
	}
	add(cli, srv, c, s, pcapgen.FIN|pcapgen.ACK, nil)
	add(srv, cli, s, c+1, pcapgen.FIN|pcapgen.ACK, nil)
	add(cli, srv, c+1, s+1, pcapgen.ACK, nil)
	return pkts
}

// isData reports whether frame f is a TCP segment with payload, and its
// direction (source port).
func isData(f []byte) (bool, uint16) {
	var dec flowkey.Decoder
	var d flowkey.Decoded
	if dec.Decode(flowkey.LinkEthernet, f, &d) != nil {
		return false, 0
	}
	return d.Proto == flowkey.ProtoTCP && d.PayloadLen > 0, d.SrcPort
}

// moved returns pkts with the packet at i moved to j, the capture times
// left in place (so time still runs forward, as in a capture that
// reordered them).
func moved(pkts []pcapgen.Packet, i, j int) []pcapgen.Packet {
	out := slices.Clone(pkts)
	p := out[i]
	out = slices.Delete(out, i, i+1)
	out = slices.Insert(out, j, p)
	for k := range out {
		out[k].TS = pkts[k].TS
	}
	return out
}

// reorderResult is what a Driver made of a capture: each side's stream
// as the transcripts have it, the http transactions without their times,
// and the missed bytes.
type reorderResult struct {
	streams [2]string
	http    []string
	missed  uint64
}

func reorderRun(t *testing.T, pkts []pcapgen.Packet, cfg flowscope.Config) reorderResult {
	t.Helper()
	cfg.Parsers = append(parsers.All(), flowscope.Session(conversation.Parser{}))
	d := flowscope.NewDriver(flowkey.FiveTupleExtractor{}, &cfg)
	var out []flowscope.Record
	for _, p := range pkts {
		pk := flowscope.Packet{Data: p.Data, Time: p.TS.UnixNano(), LinkType: flowkey.LinkEthernet}
		out = d.Track(&pk, out)
	}
	out = d.Flush(flowscope.EndOfInput, out)
	var r reorderResult
	var streams [2]strings.Builder
	for _, rec := range out {
		switch rec := rec.(type) {
		case *conversation.Event:
			if rec.Kind == conversation.Data {
				streams[rec.Side].Write(rec.Bytes)
			}
		case *http1.Transaction:
			line := "-"
			if q := rec.Request; q != nil {
				line = q.Method + " " + q.Target
			}
			if a := rec.Response; a != nil {
				line += fmt.Sprintf(" -> %d %d", a.Status, a.BodyLen)
			}
			r.http = append(r.http, fmt.Sprintf("%s %v", line, rec.Flags.Names()))
		case *flowscope.FlowRecord:
			r.missed += rec.MissedBytes
		}
	}
	r.streams = [2]string{streams[0].String(), streams[1].String()}
	return r
}

// TestReorderedVariants: a data segment captured after the peer's
// acknowledgement that covers it, and after its sender's next segment
// (swapped with its successor, or moved past the acknowledgement), in
// either direction: the transcripts and the http records are those of
// the capture in order, and nothing is missed.
func TestReorderedVariants(t *testing.T) {
	pkts := reorderConn()
	want := reorderRun(t, pkts, flowscope.Config{})
	if want.missed != 0 || len(want.http) != 4 {
		t.Fatalf("in order: %d missed, %d http", want.missed, len(want.http))
	}
	variants := 0
	for i := range pkts {
		data, port := isData(pkts[i].Data)
		if !data {
			continue
		}
		// Move the segment after the next packet of its own direction
		// (its sender's next segment, or its next acknowledgement), and
		// after the next packet of the other direction that acknowledges.
		for _, ahead := range []int{1, 2, 3, 5} {
			j := i + ahead
			if j >= len(pkts) {
				continue
			}
			variants++
			got := reorderRun(t, moved(pkts, i, j), flowscope.Config{})
			if got.streams != want.streams || !slices.Equal(got.http, want.http) || got.missed != 0 {
				t.Errorf("segment %d (from port %d) moved %d later: %d missed, streams equal %v %v, http %q",
					i, port, ahead, got.missed, got.streams[0] == want.streams[0], got.streams[1] == want.streams[1], got.http)
			}
		}
	}
	t.Logf("%d variants", variants)
	// With no wait, the same variants lose bytes: the wait is what fills
	// the holes.
	lost := 0
	for i := range pkts {
		if data, _ := isData(pkts[i].Data); data && i+3 < len(pkts) {
			if got := reorderRun(t, moved(pkts, i, i+3), flowscope.Config{ReorderPackets: -1}); got.missed > 0 {
				lost++
			}
		}
	}
	if lost == 0 {
		t.Error("without a reorder window no variant lost bytes: the test would prove nothing")
	}
}

// TestReorderProperty: random reorderings within the window (several
// segments each moved up to 8 packets later, in both directions) give
// the in-order capture's transcripts and records.
func TestReorderProperty(t *testing.T) {
	pkts := reorderConn()
	want := reorderRun(t, pkts, flowscope.Config{})
	rng := rand.New(rand.NewPCG(17, 18))
	for trial := range 200 {
		v := pkts
		for range 1 + rng.IntN(5) {
			i := rng.IntN(len(v) - 1)
			j := min(i+1+rng.IntN(8), len(v)-1)
			v = moved(v, i, j)
		}
		got := reorderRun(t, v, flowscope.Config{})
		if got.streams != want.streams || !slices.Equal(got.http, want.http) || got.missed != 0 {
			t.Fatalf("trial %d: %d missed, streams equal %v %v, http %q", trial, got.missed,
				got.streams[0] == want.streams[0], got.streams[1] == want.streams[1], got.http)
		}
	}
}

// TestReorderedRecordedCapture: the embedded capture (real curl and
// nginx connections on loopback), each TCP data segment in turn moved 1
// to 3 packets later: every connection's transcripts and every http
// record are those of the capture as recorded.
func TestReorderedRecordedCapture(t *testing.T) {
	src, err := source.NewReader(sample.Name, bytes.NewReader(sample.Capture))
	if err != nil {
		t.Fatal(err)
	}
	var pkts []pcapgen.Packet
	var b source.Batch
	for src.ReadBatch(context.Background(), &b) == nil {
		for _, p := range b.Packets {
			pkts = append(pkts, pcapgen.Packet{TS: time.Unix(0, p.Time), Data: append([]byte(nil), p.Data...)})
		}
	}
	want := reorderRunAll(t, pkts)
	variants := 0
	for i := range pkts {
		if data, _ := isData(pkts[i].Data); !data {
			continue
		}
		for ahead := 1; ahead <= 3 && i+ahead < len(pkts); ahead++ {
			variants++
			if got := reorderRunAll(t, moved(pkts, i, i+ahead)); got != want {
				t.Errorf("segment %d moved %d later: the records differ:\n%s\nwant\n%s", i, ahead, got, want)
			}
		}
	}
	t.Logf("%d variants", variants)
}

// reorderRunAll renders what a Driver with every parser and the
// conversation parser makes of pkts: each connection's streams and the
// http and dns records, by uid, without times.
func reorderRunAll(t *testing.T, pkts []pcapgen.Packet) string {
	t.Helper()
	d := flowscope.NewDriver(flowkey.FiveTupleExtractor{}, &flowscope.Config{Parsers: append(parsers.All(), flowscope.Session(conversation.Parser{}))})
	var out []flowscope.Record
	for _, p := range pkts {
		pk := flowscope.Packet{Data: p.Data, Time: p.TS.UnixNano(), LinkType: flowkey.LinkEthernet}
		out = d.Track(&pk, out)
	}
	out = d.Flush(flowscope.EndOfInput, out)
	streams := map[string]*[2]strings.Builder{}
	var lines []string
	for _, rec := range out {
		switch rec := rec.(type) {
		case *conversation.Event:
			if rec.Kind == conversation.Data {
				if streams[rec.Conn.UID] == nil {
					streams[rec.Conn.UID] = new([2]strings.Builder)
				}
				streams[rec.Conn.UID][rec.Side].Write(rec.Bytes)
			}
		case *http1.Transaction:
			line := "http " + rec.Conn.UID
			if q := rec.Request; q != nil {
				line += " " + q.Method + " " + q.Target
			}
			if a := rec.Response; a != nil {
				line += fmt.Sprintf(" -> %d %d", a.Status, a.BodyLen)
			}
			lines = append(lines, line)
		case *dnsmsg.Transaction:
			line := "dns " + rec.Conn.UID + " " + rec.Transport
			for _, m := range []*dnsmsg.Message{rec.Query, rec.Response} {
				if m != nil {
					line += fmt.Sprintf(" %d/%v/%d", m.ID, m.Response, len(m.Answers))
				}
			}
			lines = append(lines, line)
		case *flowscope.FlowRecord:
			lines = append(lines, fmt.Sprintf("conn %s missed %d", rec.UID(), rec.MissedBytes))
		}
	}
	for uid, s := range streams {
		lines = append(lines, fmt.Sprintf("stream %s %q %q", uid, s[0].String(), s[1].String()))
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}
