package sink_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/flowscope-go/flowscope"
	"github.com/flowscope-go/flowscope/flowkey"
	"github.com/flowscope-go/flowscope/internal/pcapgen"
	"github.com/flowscope-go/flowscope/recordtest"
	"github.com/flowscope-go/flowscope/sink"
)

// records tracks a generated connection and returns its records.
func records(t *testing.T) []flowscope.Record {
	t.Helper()
	cli := netip.MustParseAddrPort("[2001:db8::1]:40000")
	srv := netip.MustParseAddrPort("[2001:db8::2]:443")
	pkts := pcapgen.TCPConn(pcapgen.Conn{Client: cli, Server: srv, Start: time.Unix(1_700_000_000, 5000), Exchanges: 3, ReqSize: 200, RespSize: 2000})
	tr := flowscope.NewDriver(flowkey.FiveTupleExtractor{}, nil)
	var evs []flowscope.Record
	for _, p := range pkts {
		pk := flowscope.Packet{Data: p.Data, Time: p.TS.UnixNano(), LinkType: flowkey.LinkEthernet}
		evs = tr.Track(&pk, evs)
	}
	return tr.Flush(flowscope.EndOfInput, evs)
}

func TestZeekRecord(t *testing.T) {
	evs := records(t)
	var out bytes.Buffer
	z := sink.NewLines(&out, &sink.ZeekJSON{})
	if err := z.Write(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
	if err := z.Flush(); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(out.String(), "\n"); n != 1 {
		t.Fatalf("%d lines for one record, want 1", n)
	}
	var rec map[string]any
	if err := json.Unmarshal(out.Bytes(), &rec); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"_path": "conn", "ts": 1700000000.000005, "id.orig_h": "2001:db8::1", "id.orig_p": 40000.0,
		"id.resp_h": "2001:db8::2", "id.resp_p": 443.0, "proto": "tcp", "orig_bytes": 600.0, "resp_bytes": 6000.0,
		"conn_state": "SF", "history": "ShADdFf", "orig_pkts": 10.0, "resp_pkts": 8.0, "end_reason": "fin",
		"orig_ip_bytes": 10*60.0 + 600, "resp_ip_bytes": 8*60.0 + 6000, "missed_bytes": 0.0, "ip_proto": 6.0,
	}
	for k, v := range want {
		if rec[k] != v {
			t.Errorf("%s = %v, want %v", k, rec[k], v)
		}
	}
	uid, _ := rec["uid"].(string)
	if len(uid) != 18 || uid[0] != 'C' || uid != evs[len(evs)-1].(*flowscope.FlowRecord).UID() {
		t.Errorf("uid = %q", uid)
	}
	if cid, _ := rec["community_id"].(string); !strings.HasPrefix(cid, "1:") || len(cid) != 30 {
		t.Errorf("community_id = %q", cid)
	}
}

// TestZeekJSONConnZeroAllocs: encoding a conn record allocates nothing
// (its computed fields, the uid and the Community ID among them, are
// written by text appenders).
func TestZeekJSONConnZeroAllocs(t *testing.T) {
	evs := records(t)
	r := evs[len(evs)-1]
	recordtest.Check(t, r)
	var z sink.ZeekJSON
	buf := make([]byte, 0, 1024)
	buf = z.Append(buf[:0], r)
	if n := testing.AllocsPerRun(100, func() { buf = z.Append(buf[:0], r) }); n != 0 {
		t.Errorf("ZeekJSON.Append allocates %v times per conn record, want 0", n)
	}
}

func TestTeeChanFunc(t *testing.T) {
	evs := records(t)
	ch := make(chan flowscope.Record, len(evs))
	var seen int
	var out bytes.Buffer
	tee := sink.Tee[flowscope.Record]{
		sink.NewLines(&out, &sink.ZeekJSON{}),
		sink.Chan[flowscope.Record]{C: ch},
		sink.Func[flowscope.Record](func(_ context.Context, items []flowscope.Record) error { seen += len(items); return nil }),
	}
	if err := tee.Write(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
	if err := tee.Flush(); err != nil {
		t.Fatal(err)
	}
	if len(ch) != len(evs) || seen != len(evs) || out.Len() == 0 {
		t.Errorf("chan got %d, func %d, zeek %d bytes; want %d events each", len(ch), seen, out.Len(), len(evs))
	}
	bad := errors.New("full")
	failing := sink.Tee[flowscope.Record]{sink.Func[flowscope.Record](func(context.Context, []flowscope.Record) error { return bad })}
	if err := failing.Write(context.Background(), evs); !errors.Is(err, bad) {
		t.Errorf("Write = %v, want %v", err, bad)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := (sink.Chan[flowscope.Record]{C: make(chan flowscope.Record)}).Write(ctx, evs); !errors.Is(err, context.Canceled) {
		t.Errorf("blocked Chan.Write after cancel = %v", err)
	}
}
