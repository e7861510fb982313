package tlshello_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/flowscope-go/flowscope"
	"github.com/flowscope-go/flowscope/flowkey"
	"github.com/flowscope-go/flowscope/parsers/tlshello"
	"github.com/flowscope-go/flowscope/source"
)

const ja4Dir = "../../../shared/corpus/ja4"

// hellos runs the parser over a capture and returns each connection's
// handshakes, keyed "src:port>dst:port".
func hellos(t *testing.T, path string) map[string][]*tlshello.Handshake {
	t.Helper()
	src, err := source.OpenFiles(path)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	out := map[string][]*tlshello.Handshake{}
	d := flowscope.NewDriver(flowkey.FiveTupleExtractor{}, &flowscope.Config{
		Parsers: []flowscope.Parser{flowscope.Session(tlshello.Parser{})}})
	var recs []flowscope.Record
	var b source.Batch
	for src.ReadBatch(context.Background(), &b) == nil {
		for i := range b.Packets {
			recs = d.Track(&b.Packets[i], recs)
		}
	}
	recs = d.Flush(flowscope.EndOfInput, recs)
	for _, r := range recs {
		if h, ok := r.(*tlshello.Handshake); ok {
			key := fmt.Sprintf("%s:%d>%s:%d", h.Conn.Orig.Addr(), h.Conn.Orig.Port(), h.Conn.Resp.Addr(), h.Conn.Resp.Port())
			out[key] = append(out[key], h)
		}
	}
	return out
}

// TestJA4Vectors checks every TCP client hello of the JA4 reference
// captures against the reference fingerprints.
func TestJA4Vectors(t *testing.T) {
	f, err := os.Open(filepath.Join(ja4Dir, "expected.jsonl"))
	if os.IsNotExist(err) && os.Getenv("FLOWSCOPE_REQUIRE_CORPUS") == "" {
		t.Skipf("JA4 vectors not found at %s (../shared is absent in a plain clone)", ja4Dir)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	byCapture := map[string][]map[string]any{}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var e map[string]any
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatal(err)
		}
		byCapture[e["capture"].(string)] = append(byCapture[e["capture"].(string)], e)
	}
	checked := 0
	var names []string
	for n := range byCapture {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			got := hellos(t, filepath.Join(ja4Dir, "pcaps", name))
			for _, e := range byCapture[name] {
				key := fmt.Sprintf("%s:%s>%s:%s", e["src"], e["srcport"], e["dst"], e["dstport"])
				for n := 1; ; n++ {
					want, ok := e[fmt.Sprintf("JA4.%d", n)].(string)
					if !ok {
						break
					}
					if !strings.HasPrefix(want, "t") {
						continue // QUIC or DTLS
					}
					hs := got[key]
					if len(hs) < n || hs[n-1].Client == nil {
						t.Errorf("%s: client hello %d not found (have %d)", key, n, len(hs))
						continue
					}
					c := hs[n-1].Client
					if g := c.JA4(); g != want {
						t.Errorf("%s hello %d: JA4 %s, want %s\n raw %s\nwant %s", key, n, g, want, c.JA4Raw(), e[fmt.Sprintf("JA4_r.%d", n)])
					}
					checked++
				}
			}
		})
	}
	t.Logf("%d JA4 fingerprints checked", checked)
	if checked == 0 {
		t.Error("no fingerprint checked")
	}
}
