// Package conformance runs the flowscope pipeline on the shared corpus of
// third-party captures and compares its records with the expected outputs
// that tshark produced for them (../shared/corpus, see its README).
package conformance

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flowscope-go/flowscope"
	"github.com/flowscope-go/flowscope/conversation"
	"github.com/flowscope-go/flowscope/flowkey"
	"github.com/flowscope-go/flowscope/internal/analyze"
	"github.com/flowscope-go/flowscope/sink"
	"github.com/flowscope-go/flowscope/source"
	"github.com/flowscope-go/flowscope/stage"
)

// corpusDir is the shared corpus, beside the repository; FLOWSCOPE_CORPUS
// overrides it.
func corpusDir(t *testing.T) string {
	dir := os.Getenv("FLOWSCOPE_CORPUS")
	if dir == "" {
		dir = filepath.Join("..", "..", "..", "shared", "corpus")
	}
	if _, err := os.Stat(filepath.Join(dir, "pcaps")); err != nil {
		if os.Getenv("FLOWSCOPE_REQUIRE_CORPUS") != "" {
			t.Fatalf("conformance corpus not found at %s: %v", dir, err)
		}
		t.Skipf("conformance corpus not found at %s (it lives in ../shared beside the repository; "+
			"set FLOWSCOPE_CORPUS to point elsewhere): %v", dir, err)
	}
	return dir
}

// badInputs are the corpus's deliberately broken captures (its README's
// "Bad inputs" table): only no crash, no hang, and an error or partial
// results are expected of them.
var badInputs = map[string]bool{
	"zeek_empty.pcap":                         true,
	"tcpdump_unsupported-link-type-160.pcap":  true,
	"suricata_tls-DER-incomplete-header.pcap": true,
	"suricata_ipv4-truncated.pcap":            true,
	"tcpdump_dns-zlip-1.pcap":                 true,
	"zeek_tcp-truncated-header.pcap":          false, // partial, but its flows are meaningful
	"zeek_ipv4-fragmented-3.pcap":             true,
}

// minFlowRecall is the share of expected flows that must match, tunnelled
// and fragmented ones included.
const minFlowRecall = 0.98

// endpoint is ip:port in the corpus's text form.
type endpoint struct {
	addr netip.Addr
	port uint16
}

func parseEndpoint(s string) (endpoint, error) {
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		return endpoint{}, err
	}
	return endpoint{ap.Addr().Unmap(), ap.Port()}, nil
}

func (e endpoint) less(o endpoint) bool {
	if c := e.addr.Compare(o.addr); c != 0 {
		return c < 0
	}
	return e.port < o.port
}

// flowKey is a protocol and an unordered endpoint pair: tshark may pick
// the other side as originator, or split a reused 4-tuple into several
// streams, so counts are compared per endpoint, summed per pair.
type flowKey struct {
	proto string
	a, b  endpoint
}

func newFlowKey(proto string, x, y endpoint) flowKey {
	if y.less(x) {
		x, y = y, x
	}
	return flowKey{proto, x, y}
}

// counts are packets and IP bytes sent by each endpoint of a pair.
type counts struct {
	aPkts, aIP, bPkts, bIP uint64
}

func (c *counts) add(k flowKey, from endpoint, pkts, ip uint64) {
	if from == k.a {
		c.aPkts += pkts
		c.aIP += ip
	} else {
		c.bPkts += pkts
		c.bIP += ip
	}
}

func (k flowKey) String() string {
	return fmt.Sprintf("%s %s:%d <-> %s:%d", k.proto, k.a.addr, k.a.port, k.b.addr, k.b.port)
}

func (c counts) String() string {
	return fmt.Sprintf("a %d pkts/%d ip bytes, b %d pkts/%d ip bytes", c.aPkts, c.aIP, c.bPkts, c.bIP)
}

func readExpectedFlows(path string) (map[flowKey]*counts, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[flowKey]*counts{}
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		var e struct {
			Proto       string `json:"proto"`
			Orig        string `json:"orig"`
			Resp        string `json:"resp"`
			OrigPkts    uint64 `json:"orig_pkts"`
			OrigIPBytes uint64 `json:"orig_ip_bytes"`
			RespPkts    uint64 `json:"resp_pkts"`
			RespIPBytes uint64 `json:"resp_ip_bytes"`
		}
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		o, err1 := parseEndpoint(e.Orig)
		r, err2 := parseEndpoint(e.Resp)
		if err := errors.Join(err1, err2); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		k := newFlowKey(e.Proto, o, r)
		c := out[k]
		if c == nil {
			c = &counts{}
			out[k] = c
		}
		c.add(k, o, e.OrigPkts, e.OrigIPBytes)
		c.add(k, r, e.RespPkts, e.RespIPBytes)
	}
	return out, sc.Err()
}

// runPipeline runs the full pipeline on one capture and returns its conn
// records as the CLI writes them, the tracker stats and the run's error.
// With a transcripts directory it also writes transcripts there.
func runPipeline(ctx context.Context, path string, workers int, transcripts ...string) ([]map[string]any, flowscope.Stats, error) {
	src, err := source.OpenFiles(path)
	if err != nil {
		return nil, flowscope.Stats{}, err
	}
	defer src.Close()
	var recs []map[string]any
	var buf []byte
	var cfg flowscope.Config
	var tr *sink.Transcripts
	if len(transcripts) > 0 {
		if tr, err = sink.NewTranscripts(transcripts[0], nil); err != nil {
			return nil, flowscope.Stats{}, err
		}
		cfg.Parsers = []flowscope.Parser{flowscope.Session(conversation.Parser{})}
	}
	g := stage.New(nil)
	pkts := stage.FromSource(g, "read", src)
	out, stats := stage.Track(g, "track", flowkey.FiveTupleExtractor{}, &stage.TrackConfig{Workers: workers, Driver: cfg}, pkts)
	if tr != nil {
		var convs stage.Port[*stage.Batch[*conversation.Event]]
		convs, out = stage.Select[*conversation.Event](g, "select", out)
		stage.To(g, "transcripts", convs, tr)
	}
	var enc sink.ZeekJSON
	stage.To(g, "collect", out, sink.Func[flowscope.Record](func(_ context.Context, rs []flowscope.Record) error {
		for _, r := range rs {
			buf = enc.Append(buf[:0], r)
			var m map[string]any
			if err := json.Unmarshal(buf, &m); err != nil {
				return fmt.Errorf("conn record is not valid JSON: %v: %s", err, buf)
			}
			recs = append(recs, m)
		}
		return nil
	}))
	err = g.Run(ctx)
	if tr != nil {
		err = errors.Join(err, tr.Close())
	}
	return recs, stats.Stats(), err
}

func gotFlows(recs []map[string]any) (map[flowKey]*counts, error) {
	out := map[flowKey]*counts{}
	num := func(m map[string]any, k string) uint64 {
		f, _ := m[k].(float64)
		return uint64(f)
	}
	for _, r := range recs {
		proto, _ := r["proto"].(string)
		if proto != "tcp" && proto != "udp" {
			continue
		}
		oh, _ := r["id.orig_h"].(string)
		rh, _ := r["id.resp_h"].(string)
		oa, err1 := netip.ParseAddr(oh)
		ra, err2 := netip.ParseAddr(rh)
		if err := errors.Join(err1, err2); err != nil {
			return nil, fmt.Errorf("conn record with a bad address: %w", err)
		}
		o := endpoint{oa.Unmap(), uint16(num(r, "id.orig_p"))}
		p := endpoint{ra.Unmap(), uint16(num(r, "id.resp_p"))}
		k := newFlowKey(proto, o, p)
		c := out[k]
		if c == nil {
			c = &counts{}
			out[k] = c
		}
		c.add(k, o, num(r, "orig_pkts"), num(r, "orig_ip_bytes"))
		c.add(k, p, num(r, "resp_pkts"), num(r, "resp_ip_bytes"))
	}
	return out, nil
}

func captures(t *testing.T, dir string) []string {
	var out []string
	for _, sub := range []string{"pcaps", filepath.Join("pcaps", "flowscope")} {
		ents, err := os.ReadDir(filepath.Join(dir, sub))
		if err != nil {
			continue
		}
		for _, e := range ents {
			if e.Type().IsRegular() {
				out = append(out, filepath.Join(dir, sub, e.Name()))
			}
		}
	}
	sort.Strings(out)
	if len(out) == 0 {
		t.Fatalf("no captures in %s/pcaps", dir)
	}
	return out
}

// TestConformanceFlows compares conn records with the expected flows of
// every capture: packets and IP bytes per endpoint, per pair.
func TestConformanceFlows(t *testing.T) {
	dir := corpusDir(t)
	var expected, matched, extra int
	var misses []string
	for _, path := range captures(t, dir) {
		name := filepath.Base(path)
		if badInputs[name] {
			continue // TestConformanceBadInputs
		}
		t.Run(name, func(t *testing.T) {
			want, err := readExpectedFlows(filepath.Join(dir, "expected", name+".flows.jsonl"))
			if err != nil {
				t.Fatalf("expected flows: %v", err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			recs, _, err := runPipeline(ctx, path, 2)
			if err != nil {
				t.Fatalf("pipeline: %v", err)
			}
			got, err := gotFlows(recs)
			if err != nil {
				t.Fatal(err)
			}
			m := 0
			for k, w := range want {
				if g, ok := got[k]; ok && *g == *w {
					m++
					continue
				}
				gs := "no flow"
				if g := got[k]; g != nil {
					gs = g.String()
				}
				misses = append(misses, fmt.Sprintf("%s: %s: want %s, got %s", name, k, w, gs))
			}
			for k := range got {
				if want[k] == nil {
					extra++
				}
			}
			expected += len(want)
			matched += m
			t.Logf("%d/%d flows match", m, len(want))
		})
	}
	sort.Strings(misses)
	for _, m := range misses {
		t.Logf("miss: %s", m)
	}
	recall := func(m, e int) float64 { return float64(m) / float64(max(e, 1)) }
	t.Logf("flows, all captures: %d/%d matched (%.1f%%), %d extra flows of ours",
		matched, expected, 100*recall(matched, expected), extra)
	if r := recall(matched, expected); r < minFlowRecall {
		t.Errorf("flow recall is %.1f%%, want at least %.0f%%", 100*r, 100*minFlowRecall)
	}
}

// TestConformanceBadInputs checks that each broken capture ends quickly,
// without panic, with a clear error naming the file or with partial
// results.
func TestConformanceBadInputs(t *testing.T) {
	dir := corpusDir(t)
	for name := range badInputs {
		if !badInputs[name] {
			continue
		}
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, "pcaps", name)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			start := time.Now()
			recs, stats, err := runPipeline(ctx, path, 2)
			if time.Since(start) > 5*time.Second {
				t.Errorf("took %v", time.Since(start))
			}
			if errors.Is(err, stage.ErrPanic) {
				t.Fatalf("panic: %v", err)
			}
			if err != nil && !strings.Contains(err.Error(), name) {
				t.Errorf("error %q does not name the file", err)
			}
			t.Logf("%d records, %d packets (%d skipped), error: %v", len(recs), stats.Packets, stats.Skipped(), err)
			switch name {
			case "zeek_empty.pcap":
				if err != nil || len(recs) != 0 {
					t.Errorf("empty capture: %d records, error %v; want none and no error", len(recs), err)
				}
			case "tcpdump_unsupported-link-type-160.pcap":
				if !errors.Is(err, source.ErrUnsupportedLink) || !strings.Contains(err.Error(), "160") {
					t.Errorf("error = %v, want an unsupported link type 160 error", err)
				}
			case "suricata_tls-DER-incomplete-header.pcap":
				// Six good packets, then a record header claiming 4 MB.
				if err == nil || stats.Packets != 6 || len(recs) != 1 {
					t.Errorf("got %d packets, %d records, error %v; want 6 packets, 1 record and an error", stats.Packets, len(recs), err)
				}
				var fe *source.FileError
				if errors.As(err, &fe) && (fe.Packet != 7 || fe.Offset <= 0) {
					t.Errorf("error position: packet %d offset %d, want packet 7 at a positive offset", fe.Packet, fe.Offset)
				}
			}
		})
	}
}

// TestConformanceWorkerCounts checks on every capture of the corpus
// (tunnels, fragments and bad inputs included) that the records do not
// depend on the number of workers.
func TestConformanceWorkerCounts(t *testing.T) {
	dir := corpusDir(t)
	paths, _ := filepath.Glob(filepath.Join(dir, "pcaps", "*"))
	if len(paths) == 0 {
		t.Fatal("no captures in the corpus")
	}
	for _, path := range paths {
		t.Run(filepath.Base(path), func(t *testing.T) {
			var base []string
			var baseErr string
			for _, w := range []int{1, 3, 8} {
				recs, _, err := runPipeline(context.Background(), path, w)
				errText := fmt.Sprint(err)
				if w == 1 {
					baseErr = errText
				} else if errText != baseErr {
					t.Errorf("workers=%d: error %s, workers=1: %s", w, errText, baseErr)
				}
				lines := make([]string, len(recs))
				for i, r := range recs {
					b, _ := json.Marshal(r)
					lines[i] = string(b)
				}
				sort.Strings(lines)
				if base == nil {
					base = lines
					continue
				}
				if strings.Join(lines, "\n") != strings.Join(base, "\n") {
					t.Errorf("workers=%d gives different records than workers=1 (%d vs %d)", w, len(lines), len(base))
				}
			}
		})
	}
}

// transcriptKey is a connection (unordered endpoint pair) with the length
// and hash of each endpoint's stream.
type transcriptKey struct {
	a, b       endpoint
	aLen, bLen uint64
	aSum, bSum string
}

func newTranscriptKey(o, r endpoint, oLen, rLen uint64, oSum, rSum string) transcriptKey {
	if r.less(o) {
		o, r, oLen, rLen, oSum, rSum = r, o, rLen, oLen, rSum, oSum
	}
	return transcriptKey{o, r, oLen, rLen, oSum, rSum}
}

func (k transcriptKey) String() string {
	return fmt.Sprintf("%s:%d (%d bytes %.12s) <-> %s:%d (%d bytes %.12s)", k.a.addr, k.a.port, k.aLen, k.aSum, k.b.addr, k.b.port, k.bLen, k.bSum)
}

func readTranscripts(path string, expected bool) (map[transcriptKey]int, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[transcriptKey]int{}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for line := 1; sc.Scan(); line++ {
		var e struct {
			Orig, Resp string
			OrigH      string `json:"id.orig_h"`
			OrigP      uint16 `json:"id.orig_p"`
			RespH      string `json:"id.resp_h"`
			RespP      uint16 `json:"id.resp_p"`
			OrigLen    uint64 `json:"orig_len"`
			RespLen    uint64 `json:"resp_len"`
			OrigSum    string `json:"orig_sha256"`
			RespSum    string `json:"resp_sha256"`
		}
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		if !expected {
			e.Orig = netip.AddrPortFrom(netip.MustParseAddr(e.OrigH), e.OrigP).String()
			e.Resp = netip.AddrPortFrom(netip.MustParseAddr(e.RespH), e.RespP).String()
		}
		o, err1 := parseEndpoint(e.Orig)
		r, err2 := parseEndpoint(e.Resp)
		if err := errors.Join(err1, err2); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		out[newTranscriptKey(o, r, e.OrigLen, e.RespLen, e.OrigSum, e.RespSum)]++
	}
	return out, sc.Err()
}

// minTranscriptRecall is the share of expected transcripts that must
// match exactly (both sides' lengths and hashes).
const minTranscriptRecall = 0.97

// TestConformanceTranscripts compares the transcript index with the
// connections on which tshark and tcpflow agree byte for byte.
func TestConformanceTranscripts(t *testing.T) {
	dir := corpusDir(t)
	var expected, matched, extra int
	var misses []string
	for _, path := range captures(t, dir) {
		name := filepath.Base(path)
		if badInputs[name] {
			continue
		}
		t.Run(name, func(t *testing.T) {
			want, err := readTranscripts(filepath.Join(dir, "expected", name+".transcripts.jsonl"), true)
			if err != nil {
				t.Fatalf("expected transcripts: %v", err)
			}
			out := t.TempDir()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if _, _, err := runPipeline(ctx, path, 2, out); err != nil {
				t.Fatalf("pipeline: %v", err)
			}
			got, err := readTranscripts(filepath.Join(out, "index.jsonl"), false)
			if err != nil {
				t.Fatal(err)
			}
			m := 0
			for k, n := range want {
				hit := min(n, got[k])
				m += hit
				for range n - hit {
					misses = append(misses, fmt.Sprintf("%s: %s", name, k))
				}
			}
			for k, n := range got {
				extra += max(0, n-want[k])
			}
			expected += len(want)
			matched += m
			if len(want) > 0 {
				t.Logf("%d/%d transcripts match", m, len(want))
			}
		})
	}
	sort.Strings(misses)
	for _, m := range misses {
		t.Logf("miss: %s", m)
	}
	recall := float64(matched) / float64(max(expected, 1))
	t.Logf("transcripts: %d/%d matched (%.1f%%); %d more of ours on connections the oracle tools disagreed on or left out",
		matched, expected, 100*recall, extra)
	if recall < minTranscriptRecall {
		t.Errorf("transcript recall %.1f%%, want at least %.0f%%", 100*recall, 100*minTranscriptRecall)
	}
}

// httpItem is one expected request (method, host, uri, user agent) or
// response (status) on an unordered endpoint pair.
type httpItem struct {
	a, b                  endpoint
	kind                  string
	method, host, uri, ua string
	status                int
}

func (h httpItem) String() string {
	if h.kind == "request" {
		return fmt.Sprintf("%s:%d <-> %s:%d request %s %s %s %q", h.a.addr, h.a.port, h.b.addr, h.b.port, h.method, h.host, h.uri, h.ua)
	}
	return fmt.Sprintf("%s:%d <-> %s:%d response %d", h.a.addr, h.a.port, h.b.addr, h.b.port, h.status)
}

func pairOf(x, y endpoint) (endpoint, endpoint) {
	if y.less(x) {
		return y, x
	}
	return x, y
}

func readExpectedHTTP(path string) (map[httpItem]int, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[httpItem]int{}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for line := 1; sc.Scan(); line++ {
		var e struct {
			Orig, Resp, Type, Method, Host, URI string
			UserAgent                           string `json:"user_agent"`
			Status                              int
		}
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		o, err1 := parseEndpoint(e.Orig)
		r, err2 := parseEndpoint(e.Resp)
		if err := errors.Join(err1, err2); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		a, b := pairOf(o, r)
		it := httpItem{a: a, b: b, kind: e.Type}
		if e.Type == "request" {
			it.method, it.host, it.uri, it.ua = e.Method, e.Host, e.URI, e.UserAgent
		} else {
			it.status = e.Status
		}
		out[it]++
	}
	return out, sc.Err()
}

// httpItems reads our http records: a record with a method is a request,
// one with a status code a response, and an interim 1xx (info_code) a
// response of its own, as the corpus lists them.
func httpItems(jsonl []byte) (map[httpItem]int, error) {
	out := map[httpItem]int{}
	for _, line := range bytes.Split(bytes.TrimSpace(jsonl), []byte("\n")) {
		var r struct {
			Path      string `json:"_path"`
			OrigH     string `json:"id.orig_h"`
			OrigP     uint16 `json:"id.orig_p"`
			RespH     string `json:"id.resp_h"`
			RespP     uint16 `json:"id.resp_p"`
			Method    *string
			Host      *string
			URI       *string
			UserAgent *string `json:"user_agent"`
			Status    *int    `json:"status_code"`
			Info      *int    `json:"info_code"`
		}
		if err := json.Unmarshal(line, &r); err != nil {
			return nil, fmt.Errorf("output line %q: %w", line, err)
		}
		if r.Path != "http" {
			continue
		}
		oa, err1 := netip.ParseAddr(r.OrigH)
		ra, err2 := netip.ParseAddr(r.RespH)
		if err := errors.Join(err1, err2); err != nil {
			return nil, err
		}
		a, b := pairOf(endpoint{oa.Unmap(), r.OrigP}, endpoint{ra.Unmap(), r.RespP})
		str := func(p *string) string {
			if p == nil {
				return ""
			}
			return *p
		}
		if r.Method != nil {
			out[httpItem{a: a, b: b, kind: "request", method: *r.Method, host: str(r.Host), uri: str(r.URI), ua: str(r.UserAgent)}]++
		}
		if r.Info != nil {
			out[httpItem{a: a, b: b, kind: "response", status: *r.Info}]++
		}
		if r.Status != nil {
			out[httpItem{a: a, b: b, kind: "response", status: *r.Status}]++
		}
	}
	return out, nil
}

// minHTTPRecall is the share of expected requests and responses that
// must be matched.
const minHTTPRecall = 0.97

// TestConformanceHTTP runs the command's pipeline (analyze.Run) on every
// capture and compares its http records with the corpus.
func TestConformanceHTTP(t *testing.T) {
	dir := corpusDir(t)
	var expected, matched, extra int
	var misses []string
	for _, path := range captures(t, dir) {
		name := filepath.Base(path)
		if badInputs[name] {
			continue
		}
		t.Run(name, func(t *testing.T) {
			want, err := readExpectedHTTP(filepath.Join(dir, "expected", name+".http.jsonl"))
			if err != nil {
				t.Fatalf("expected http: %v", err)
			}
			src, err := source.OpenFiles(path)
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			var out bytes.Buffer
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if _, err := analyze.Run(ctx, src, &out, analyze.Options{Workers: 2}); err != nil {
				t.Fatalf("pipeline: %v", err)
			}
			got, err := httpItems(out.Bytes())
			if err != nil {
				t.Fatal(err)
			}
			n, m := 0, 0
			for k, c := range want {
				n += c
				hit := min(c, got[k])
				m += hit
				for range c - hit {
					misses = append(misses, fmt.Sprintf("%s: %s", name, k))
				}
			}
			for k, c := range got {
				extra += max(0, c-want[k])
			}
			expected += n
			matched += m
			if n > 0 {
				t.Logf("%d/%d http items match", m, n)
			}
		})
	}
	sort.Strings(misses)
	for _, m := range misses {
		t.Logf("miss: %s", m)
	}
	recall := float64(matched) / float64(max(expected, 1))
	t.Logf("http: %d/%d requests and responses matched (%.1f%%); %d more of ours", matched, expected, 100*recall, extra)
	if recall < minHTTPRecall {
		t.Errorf("http recall %.1f%%, want at least %.0f%%", 100*recall, 100*minHTTPRecall)
	}
}

// zeekVersion maps the corpus's TLS version names to Zeek's.
var zeekVersion = map[string]string{"SSL3.0": "SSLv3", "TLS1.0": "TLSv10", "TLS1.1": "TLSv11", "TLS1.2": "TLSv12", "TLS1.3": "TLSv13"}

// cipherName maps the corpus's 0xNNNN cipher codes to IANA names with the
// corpus's own registry table.
func cipherNames(t *testing.T, dir string) map[string]string {
	data, err := os.ReadFile(filepath.Join(dir, "ciphers.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		code, name, _ := strings.Cut(line, "\t")
		n, _ := strconv.Atoi(code)
		out[fmt.Sprintf("0x%04x", n)] = name
	}
	return out
}

func pairKey(x, y endpoint) string {
	a, b := pairOf(x, y)
	return fmt.Sprintf("%s:%d|%s:%d", a.addr, a.port, b.addr, b.port)
}

// expectedItems reads the corpus's dns or tls lines as comparable items.
func expectedItems(path, kind string, ciphers map[string]string) (map[string]int, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	out := map[string]int{}
	for _, line := range bytes.Split(bytes.TrimSpace(data), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var e map[string]any
		if err := json.Unmarshal(line, &e); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		o, err1 := parseEndpoint(e["orig"].(string))
		r, err2 := parseEndpoint(e["resp"].(string))
		if err := errors.Join(err1, err2); err != nil {
			return nil, err
		}
		pk := pairKey(o, r)
		switch kind {
		case "dns":
			q := fmt.Sprintf("%v %s %v %s %v", e["transport"], pk, e["id"], strings.ToLower(strings.TrimSuffix(str(e["qname"]), ".")), e["qtype"])
			if e["response"] == true {
				out[fmt.Sprintf("response %s %v %v", q, e["rcode"], e["answers"])]++
			} else {
				out["query "+q]++
			}
		case "tls":
			if e["type"] == "client_hello" {
				var vs []string
				for _, v := range list(e["versions"]) {
					vs = append(vs, zeekVersion[v])
				}
				out[fmt.Sprintf("client_hello %s %q %q %q", pk, str(e["sni"]), list(e["alpn"]), vs)]++
			} else {
				name := ciphers[str(e["cipher"])]
				out[fmt.Sprintf("server_hello %s %s %s %q", pk, zeekVersion[str(e["version"])], name, str(e["alpn"]))]++
			}
		}
	}
	return out, nil
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func list(v any) []string {
	var out []string
	xs, _ := v.([]any)
	for _, x := range xs {
		out = append(out, x.(string))
	}
	return out
}

// gotItems reads our dns or ssl records as the same items.
func gotItems(jsonl []byte, kind string) (map[string]int, error) {
	out := map[string]int{}
	path := map[string]string{"dns": "dns", "tls": "ssl"}[kind]
	for _, line := range bytes.Split(bytes.TrimSpace(jsonl), []byte("\n")) {
		var r map[string]any
		if err := json.Unmarshal(line, &r); err != nil {
			return nil, fmt.Errorf("output line %q: %w", line, err)
		}
		if r["_path"] != path {
			continue
		}
		oa, _ := netip.ParseAddr(str(r["id.orig_h"]))
		ra, _ := netip.ParseAddr(str(r["id.resp_h"]))
		pk := pairKey(endpoint{oa.Unmap(), uint16(r["id.orig_p"].(float64))}, endpoint{ra.Unmap(), uint16(r["id.resp_p"].(float64))})
		switch kind {
		case "dns":
			q := fmt.Sprintf("%v %s %v %s %v", r["proto"], pk, r["trans_id"], strings.ToLower(str(r["query"])), orNil(r["qtype_name"]))
			out["query "+q]++
			if rc, ok := r["rcode_name"]; ok {
				n := 0
				if a, ok := r["answers"].([]any); ok {
					n = len(a)
				}
				out[fmt.Sprintf("response %s %v %v", q, rc, float64(n))]++
			}
		case "tls":
			if vs, ok := r["client_versions"].([]any); ok {
				var alpn []string
				if a, ok := r["client_alpn"].([]any); ok {
					for _, x := range a {
						alpn = append(alpn, x.(string))
					}
				}
				var versions []string
				for _, v := range vs {
					versions = append(versions, v.(string))
				}
				out[fmt.Sprintf("client_hello %s %q %q %q", pk, str(r["server_name"]), alpn, versions)]++
			}
			if _, ok := r["version"]; ok {
				out[fmt.Sprintf("server_hello %s %s %s %q", pk, str(r["version"]), str(r["cipher"]), str(r["next_protocol"]))]++
			}
		}
	}
	return out, nil
}

func orNil(v any) any {
	if v == nil {
		return "<nil>"
	}
	return v
}

// minDNSTLSRecall is the share of expected DNS messages and TLS hellos
// that must be matched.
const minDNSTLSRecall = 0.95

// TestConformanceDNSTLS runs the command's pipeline on every capture and
// compares its dns and ssl records with the corpus: DNS queries and
// responses (id, name, type; rcode and answer count), TLS client hellos
// (SNI, ALPN list, versions) and server hellos (version, cipher, ALPN).
func TestConformanceDNSTLS(t *testing.T) {
	dir := corpusDir(t)
	ciphers := cipherNames(t, dir)
	expected := map[string]int{}
	matched := map[string]int{}
	var misses []string
	for _, path := range captures(t, dir) {
		name := filepath.Base(path)
		if badInputs[name] {
			continue
		}
		src, err := source.OpenFiles(path)
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		_, err = analyze.Run(ctx, src, &out, analyze.Options{Workers: 2})
		cancel()
		src.Close()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, kind := range []string{"dns", "tls"} {
			want, err := expectedItems(filepath.Join(dir, "expected", name+"."+kind+".jsonl"), kind, ciphers)
			if err != nil {
				t.Fatal(err)
			}
			got, err := gotItems(out.Bytes(), kind)
			if err != nil {
				t.Fatal(err)
			}
			for k, n := range want {
				hit := min(n, got[k])
				expected[kind] += n
				matched[kind] += hit
				for range n - hit {
					misses = append(misses, fmt.Sprintf("%s: %s %s", name, kind, k))
				}
			}
		}
	}
	sort.Strings(misses)
	for _, m := range misses {
		t.Logf("miss: %s", m)
	}
	for _, kind := range []string{"dns", "tls"} {
		recall := float64(matched[kind]) / float64(max(expected[kind], 1))
		t.Logf("%s: %d/%d matched (%.1f%%)", kind, matched[kind], expected[kind], 100*recall)
		if recall < minDNSTLSRecall {
			t.Errorf("%s recall %.1f%%, want at least %.0f%%", kind, 100*recall, 100*minDNSTLSRecall)
		}
	}
}
