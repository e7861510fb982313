package sink_test

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flowscope-go/flowscope"
	"github.com/flowscope-go/flowscope/conversation"
	"github.com/flowscope-go/flowscope/flowkey"
	"github.com/flowscope-go/flowscope/internal/pcapgen"
	"github.com/flowscope-go/flowscope/sink"
)

// TestTranscripts tracks many connections through a Transcripts with few
// open files, so that files are closed and reopened mid-stream, and
// checks every file and index line.
func TestTranscripts(t *testing.T) {
	dir := t.TempDir()
	tr, err := sink.NewTranscripts(filepath.Join(dir, "out"), &sink.TranscriptConfig{Text: true, MaxOpen: 4})
	if err != nil {
		t.Fatal(err)
	}
	const conns = 20
	var all []pcapgen.Packet
	srv := netip.MustParseAddrPort("192.0.2.1:80")
	for i := range conns {
		cli := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 0, byte(i + 1)}), 4000)
		// Interleaved in time: every connection is open at once.
		all = append(all, pcapgen.TCPConn(pcapgen.Conn{Client: cli, Server: srv, Start: time.Unix(1_700_000_000, int64(i)*1000),
			Exchanges: 3, ReqSize: 10 + i, RespSize: 2000 + i, Gap: time.Millisecond})...)
	}
	sortPackets(all)
	d := flowscope.NewDriver(flowkey.FiveTupleExtractor{}, &flowscope.Config{Parsers: []flowscope.Parser{flowscope.Session(conversation.Parser{})}})
	var recs []flowscope.Record
	write := func() { // the conversation events of recs, conn records left out
		var evs []*conversation.Event
		for _, r := range recs {
			if e, ok := r.(*conversation.Event); ok {
				evs = append(evs, e)
			}
		}
		if err := tr.Write(context.Background(), evs); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range all {
		pk := flowscope.Packet{Data: p.Data, Time: p.TS.UnixNano(), LinkType: flowkey.LinkEthernet}
		recs = d.Track(&pk, recs[:0])
		write()
	}
	recs = d.Flush(flowscope.EndOfInput, recs[:0])
	write()
	if err := tr.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}

	f, err := os.Open(filepath.Join(dir, "out", "index.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		n++
		var e struct {
			UID     string `json:"uid"`
			OrigLen int    `json:"orig_len"`
			RespLen int    `json:"resp_len"`
			OrigSum string `json:"orig_sha256"`
			RespSum string `json:"resp_sha256"`
			OrigGap int    `json:"orig_gap_bytes"`
		}
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatal(err)
		}
		for _, side := range []struct {
			ext  string
			n    int
			sum  string
			want byte
		}{{".orig", e.OrigLen, e.OrigSum, 'a'}, {".resp", e.RespLen, e.RespSum, 0}} {
			data, err := os.ReadFile(filepath.Join(dir, "out", e.UID+side.ext))
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(data)
			if len(data) != side.n || hex.EncodeToString(sum[:]) != side.sum {
				t.Errorf("%s%s: %d bytes, index says %d; hash mismatch: %v", e.UID, side.ext, len(data), side.n, hex.EncodeToString(sum[:]) != side.sum)
			}
		}
		if (e.OrigLen-30)%3 != 0 || e.RespLen < 6000 || e.OrigGap != 0 {
			t.Errorf("%s: lengths %d/%d gap %d", e.UID, e.OrigLen, e.RespLen, e.OrigGap)
		}
		txt, err := os.ReadFile(filepath.Join(dir, "out", e.UID+".txt"))
		if err != nil {
			t.Fatal(err)
		}
		if c := strings.Count(string(txt), "\n--- orig "); c != 3 || !strings.Contains(string(txt), "--- end: fin") {
			t.Errorf("%s.txt: %d request headers, want 3, and an end line:\n%s", e.UID, c, txt[:min(len(txt), 400)])
		}
	}
	if n != conns {
		t.Errorf("%d index lines, want %d", n, conns)
	}
}

func sortPackets(p []pcapgen.Packet) {
	for i := 1; i < len(p); i++ {
		for j := i; j > 0 && p[j].TS.Before(p[j-1].TS); j-- {
			p[j], p[j-1] = p[j-1], p[j]
		}
	}
}

// TestMaxOpenFitsFileLimit: connections keep three files each, within
// the process's limit on open files and some to spare, between 16 and
// DefaultMaxOpenTranscripts.
func TestMaxOpenFitsFileLimit(t *testing.T) {
	for _, c := range []struct {
		nofile uint64
		want   int
	}{{0, 16}, {64, 16}, {256, 42}, {1024, 298}, {20000, sink.DefaultMaxOpenTranscripts}, {1 << 40, sink.DefaultMaxOpenTranscripts}} {
		if got := sink.MaxOpenFor(c.nofile); got != c.want {
			t.Errorf("maxOpenFor(%d) = %d, want %d", c.nofile, got, c.want)
		}
	}
}
