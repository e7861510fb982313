package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/flowscope-go/flowscope/internal/pcapgen"
	"github.com/flowscope-go/flowscope/sample"
)

var update = flag.Bool("update", false, "rewrite golden files")

func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var o, e bytes.Buffer
	code = run(context.Background(), args, &o, &e, nil)
	return code, o.String(), e.String()
}

// TestSampleGolden runs the command with no input, on the embedded
// capture, and compares its records with the golden file.
func TestSampleGolden(t *testing.T) {
	code, out, errOut := runCLI(t, "--workers", "3")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.Contains(errOut, "embedded sample capture") || !strings.Contains(errOut, "58 packets, 8 flows") {
		t.Errorf("stderr does not announce the sample and summarise it: %q", errOut)
	}
	golden := filepath.Join("testdata", "sample.conn.jsonl")
	if *update {
		if err := os.WriteFile(golden, []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if out != string(want) {
		t.Errorf("output differs from %s (run go test -update to accept):\n%s", golden, out)
	}
	fields := map[string][]string{
		"conn": {"_path", "ts", "uid", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "proto",
			"conn_state", "missed_bytes", "history", "orig_pkts", "orig_ip_bytes", "resp_pkts", "resp_ip_bytes", "community_id", "end_reason"},
		"http": {"_path", "ts", "uid", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "trans_depth",
			"method", "host", "uri", "version", "user_agent", "request_body_len", "response_body_len", "status_code", "status_msg"},
		"dns": {"_path", "ts", "uid", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "proto", "trans_id", "rtt",
			"query", "qclass", "qclass_name", "qtype", "qtype_name", "rcode", "rcode_name", "AA", "TC", "RD", "RA", "Z", "rejected"},
	}
	count := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("not JSON: %q", line)
		}
		path, _ := rec["_path"].(string)
		count[path]++
		for _, k := range fields[path] {
			if _, ok := rec[k]; !ok {
				t.Errorf("%s record lacks %q: %s", path, k, line)
			}
		}
	}
	// The sample: 8 flows, 5 HTTP transactions (GET /, GET /big.txt,
	// GET /index.html, GET /missing, POST /echo), and 4 DNS transactions
	// (A, AAAA and a refused A over UDP, TXT over TCP).
	if count["conn"] != 8 || count["http"] != 5 || count["dns"] != 4 || len(count) != 3 {
		t.Errorf("records by kind: %v, want 8 conn, 5 http and 4 dns", count)
	}
}

func TestOutputIndependentOfWorkers(t *testing.T) {
	_, one, _ := runCLI(t, "--workers", "1", "-q")
	_, many, _ := runCLI(t, "--workers", "7", "-q")
	sorted := func(s string) string {
		l := strings.Split(s, "\n")
		slices.Sort(l)
		return strings.Join(l, "\n")
	}
	if sorted(one) != sorted(many) || one == "" {
		t.Errorf("records with 1 and 7 workers differ")
	}
}

func writeTemp(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestBadInput(t *testing.T) {
	cut := sample.Capture[:len(sample.Capture)-100] // ends inside the last record
	user13 := append([]byte(nil), sample.Capture[:24]...)
	user13[20], user13[21], user13[22], user13[23] = 160, 0, 0, 0
	cases := []struct {
		name, file string
		data       []byte
		says       string
		records    bool // records before the fault are written
	}{
		{name: "missing", file: "nope.pcap", says: "no such file"},
		{name: "empty", file: "empty.pcap", data: []byte{}, says: "empty file"},
		{name: "not a capture", file: "notes.txt", data: []byte("just some text, not packets"), says: "not a pcap or pcapng file"},
		{name: "unsupported link", file: "user13.pcap", data: user13, says: "unsupported link type 160"},
		{name: "cut record", file: "cut.pcap", data: cut, says: "capture record cut short", records: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), c.file)
			if c.data != nil {
				path = writeTemp(t, c.file, c.data)
			}
			code, out, errOut := runCLI(t, "-q", "-r", path)
			if code != 1 {
				t.Errorf("exit %d, want 1", code)
			}
			lines := strings.Split(strings.TrimSpace(errOut), "\n")
			if len(lines) != 1 || !strings.Contains(lines[0], path) || !strings.Contains(lines[0], c.says) {
				t.Errorf("stderr = %q, want one line naming %s and saying %q", errOut, path, c.says)
			}
			if got := out != ""; got != c.records {
				t.Errorf("records written: %v, want %v (%q)", got, c.records, out)
			}
		})
	}
}

func TestCutCaptureKeepsRecords(t *testing.T) {
	cut := writeTemp(t, "cut.pcap", sample.Capture[:len(sample.Capture)-100])
	_, out, errOut := runCLI(t, "--workers", "2", "--protocols", "none", "-r", cut)
	if n := strings.Count(out, "\n"); n != 8 {
		t.Errorf("%d records from the cut capture, want all 8 flows: %s", n, errOut)
	}
	if !strings.Contains(errOut, "at offset") {
		t.Errorf("error does not give the offset: %q", errOut)
	}
}

func TestWriteFileAndSeveralInputs(t *testing.T) {
	in := writeTemp(t, "s.pcap", sample.Capture)
	out := filepath.Join(t.TempDir(), "conn.jsonl")
	code, stdout, errOut := runCLI(t, "--protocols", "none", "-r", in, "-r", in, "-w", out)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if stdout != "" {
		t.Errorf("stdout not empty with -w")
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	// The second copy repeats every 4-tuple and timestamp: each TCP flow
	// is reused after its close, each UDP flow continues.
	if n := strings.Count(string(data), "\n"); n != 13 {
		t.Errorf("%d records from two copies of the sample, want 13:\n%s", n, data)
	}
	if !strings.Contains(errOut, "116 packets") {
		t.Errorf("summary = %q, want 116 packets", errOut)
	}
}

func TestUsage(t *testing.T) {
	code, out, _ := runCLI(t, "-h")
	if code != 0 || !strings.Contains(out, "-r FILE") || !strings.Contains(out, "--workers N") {
		t.Errorf("-h: exit %d, %q", code, out)
	}
	for _, args := range [][]string{{"--bogus"}, {"--format", "xml"}, {"--protocols", "gopher"}, {"--workers", "0"}, {"capture.pcap"},
		{"-f", "tcp port"}, {"-f", "host example.com"}, {"--duration", "5s"}, {"--rotate", "10"}, {"-i", "lo", "-r", "x.pcap"}, {"--snaplen", "96"}} {
		if code, _, errOut := runCLI(t, args...); code != 2 || errOut == "" || strings.Count(errOut, "\n") > 2 {
			t.Errorf("%v: exit %d, stderr %q; want 2 and a short message", args, code, errOut)
		}
	}
	if code, _, _ := runCLI(t, "--protocols", "none", "-q"); code != 0 {
		t.Errorf("--protocols none: exit %d", code)
	}
}

// TestFilterAndCount filters the embedded sample as tcpdump would and
// cuts it with --count, saving what passes with --write-pcap.
func TestFilterAndCount(t *testing.T) {
	count := func(out, path string) int { return strings.Count(out, `"_path":"`+path+`"`) }
	code, all, _ := runCLI(t, "-q")
	if code != 0 {
		t.Fatal("the sample does not run")
	}
	code, out, errOut := runCLI(t, "-f", "udp port 53")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	// The sample's UDP DNS flows and their three transactions; no HTTP,
	// no TCP.
	if count(out, "http") != 0 || count(out, "dns") != 3 || strings.Contains(out, `"proto":"tcp"`) || count(out, "conn") == 0 {
		t.Errorf("-f 'udp port 53': %d conn, %d http, %d dns records; tcp present: %v",
			count(out, "conn"), count(out, "http"), count(out, "dns"), strings.Contains(out, `"proto":"tcp"`))
	}
	code, out, _ = runCLI(t, "-f", "not udp port 53")
	if code != 0 || count(out, "http") != count(all, "http") || count(out, "dns") != 1 {
		t.Errorf("-f 'not udp port 53': exit %d, %d http (want %d), %d dns (want the TCP one)", code, count(out, "http"), count(all, "http"), count(out, "dns"))
	}

	pcap := filepath.Join(t.TempDir(), "first.pcap")
	code, _, errOut = runCLI(t, "--count", "10", "--write-pcap", pcap)
	if code != 0 || !strings.Contains(errOut, "10 packets,") || !strings.Contains(errOut, "saved 10 packets to "+pcap) {
		t.Errorf("--count 10 --write-pcap: exit %d, %q", code, errOut)
	}
	// What was saved reads back as the same 10 packets.
	code, _, errOut = runCLI(t, "-r", pcap)
	if code != 0 || !strings.Contains(errOut, "10 packets,") {
		t.Errorf("reading the saved file: exit %d, %q", code, errOut)
	}
}

func TestTranscriptsFlag(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "t")
	code, _, errOut := runCLI(t, "-q", "--transcripts", dir)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	index, err := os.ReadFile(filepath.Join(dir, "index.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	// The sample holds 5 TCP connections with payload (4 HTTP, 1 DNS over TCP).
	if n := strings.Count(string(index), "\n"); n != 5 {
		t.Errorf("%d index lines, want 5:\n%s", n, index)
	}
	for _, c := range []struct {
		pattern string
		want    int
	}{{"*.orig", 5}, {"*.resp", 5}, {"*.txt", 0}} {
		if files, _ := filepath.Glob(filepath.Join(dir, c.pattern)); len(files) != c.want {
			t.Errorf("%d %s transcripts, want %d", len(files), c.pattern, c.want)
		}
	}
	// --transcripts-text adds the readable interleaved files.
	dir = filepath.Join(t.TempDir(), "text")
	if code, _, errOut := runCLI(t, "-q", "--transcripts", dir, "--transcripts-text"); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if files, _ := filepath.Glob(filepath.Join(dir, "*.txt")); len(files) != 5 {
		t.Errorf("%d .txt transcripts with --transcripts-text, want 5", len(files))
	}
	if code, _, errOut := runCLI(t, "-q", "--transcripts-text"); code != 2 || !strings.Contains(errOut, "--transcripts") {
		t.Errorf("--transcripts-text alone: exit %d, %q", code, errOut)
	}
	if code, _, errOut := runCLI(t, "-q", "--transcripts", "/proc/no/such/dir"); code != 1 || !strings.Contains(errOut, "transcripts") {
		t.Errorf("unwritable directory: exit %d, %q", code, errOut)
	}
}

// TestRecordKindsInterleaveWhole: with many records of both kinds, every
// line of the output is one whole JSON object, and the output is the same
// on every run.
func TestRecordKindsInterleaveWhole(t *testing.T) {
	path := writeTemp(t, "http.pcap", manyHTTPConnections(t, 400))
	_, first, errOut := runCLI(t, "-q", "--workers", "2", "-r", path)
	lines := strings.Split(strings.TrimSpace(first), "\n")
	kinds := map[string]int{}
	for _, l := range lines {
		var rec map[string]any
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Fatalf("line is not one JSON object: %.120q (%s)", l, errOut)
		}
		kinds[rec["_path"].(string)]++
	}
	if kinds["conn"] != 400 || kinds["http"] != 800 {
		t.Errorf("records by kind %v, want 400 conn and 800 http", kinds)
	}
	if _, again, _ := runCLI(t, "-q", "--workers", "2", "-r", path); again != first {
		t.Error("two runs gave different output")
	}
}

// manyHTTPConnections builds a pcap of n connections with two HTTP
// exchanges each.
func manyHTTPConnections(t *testing.T, n int) []byte {
	t.Helper()
	var pkts []pcapgen.Packet
	srv := netip.MustParseAddrPort("192.0.2.80:80")
	req := []byte("GET /index.html HTTP/1.1\r\nHost: example.test\r\nUser-Agent: flowscope-test\r\n\r\n")
	resp := []byte("HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\nhello world\n")
	base := time.Unix(1_700_000_000, 0)
	for i := range n {
		cli := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 7, byte(i >> 8), byte(i)}), 30000)
		ts := base.Add(time.Duration(i) * time.Millisecond)
		add := func(f []byte) {
			pkts = append(pkts, pcapgen.Packet{TS: ts, Data: f})
			ts = ts.Add(10 * time.Microsecond)
		}
		c, s := uint32(1000), uint32(5000)
		add(pcapgen.TCP(cli, srv, c, 0, pcapgen.SYN, nil))
		add(pcapgen.TCP(srv, cli, s, c+1, pcapgen.SYN|pcapgen.ACK, nil))
		c, s = c+1, s+1
		add(pcapgen.TCP(cli, srv, c, s, pcapgen.ACK, nil))
		for range 2 {
			add(pcapgen.TCP(cli, srv, c, s, pcapgen.PSH|pcapgen.ACK, req))
			c += uint32(len(req))
			add(pcapgen.TCP(srv, cli, s, c, pcapgen.PSH|pcapgen.ACK, resp))
			s += uint32(len(resp))
		}
		add(pcapgen.TCP(cli, srv, c, s, pcapgen.FIN|pcapgen.ACK, nil))
		add(pcapgen.TCP(srv, cli, s, c+1, pcapgen.FIN|pcapgen.ACK, nil))
		add(pcapgen.TCP(cli, srv, c+1, s+1, pcapgen.ACK, nil))
	}
	slices.SortStableFunc(pkts, func(a, b pcapgen.Packet) int { return a.TS.Compare(b.TS) })
	var b bytes.Buffer
	if err := pcapgen.WritePcap(&b, pkts); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestSummarySaysWhySkipped checks the end-of-run line on a capture with
// an ARP frame, a datagram in two fragments and a fragment whose datagram
// never completes.
func TestSummarySaysWhySkipped(t *testing.T) {
	cli, srv := netip.MustParseAddrPort("10.0.0.1:4000"), netip.MustParseAddrPort("10.0.0.2:9000")
	whole := pcapgen.UDP(cli, srv, bytes.Repeat([]byte("x"), 64))
	first := pcapgen.Fragments(whole, 40, 1)
	a, b := first[0], first[1]
	orphan := pcapgen.Fragments(whole, 40, 2)[0]
	arp := append(append([]byte(nil), whole[:12]...), 0x08, 0x06)
	arp = append(arp, make([]byte, 28)...)
	var pkts []pcapgen.Packet
	ts := time.Unix(1_700_000_000, 0)
	for i, f := range [][]byte{arp, a, orphan, b} {
		pkts = append(pkts, pcapgen.Packet{TS: ts.Add(time.Duration(i) * time.Millisecond), Data: f})
	}
	var buf bytes.Buffer
	if err := pcapgen.WritePcap(&buf, pkts); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI(t, "-r", writeTemp(t, "frag.pcap", buf.Bytes()))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	// The fragment that completes a datagram counts as the datagram's
	// packet; the two others were held.
	want := "4 packets, 1 flows, 3 skipped (1 not IP, 2 fragments held: 1 datagrams reassembled, 1 dropped incomplete)"
	if !strings.Contains(errOut, want) {
		t.Errorf("summary %q, want it to contain %q", errOut, want)
	}
	if !strings.Contains(out, `"orig_ip_bytes":92,`) {
		t.Errorf("the reassembled datagram's flow is missing or wrong:\n%s", out)
	}
}

func TestInputBytes(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.pcap"), filepath.Join(dir, "b.pcap")
	if err := os.WriteFile(a, make([]byte, 1000), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(b, make([]byte, 24), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		files []string
		want  int64
	}{
		{"none", nil, 0},
		{"one", []string{a}, 1000},
		{"two", []string{a, b}, 1024},
		{"standard input", []string{a, "-"}, math.MaxInt64},
		{"missing", []string{filepath.Join(dir, "missing.pcap")}, math.MaxInt64},
		{"directory", []string{dir}, math.MaxInt64},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := inputBytes(tc.files); got != tc.want {
				t.Errorf("inputBytes(%q) = %d, want %d", tc.files, got, tc.want)
			}
		})
	}
}

// TestMemoryFlag: a flood of data connections that needs more than
// --memory ends the least recently seen flows, says so in the summary,
// and still writes a record for every flow.
func TestMemoryFlag(t *testing.T) {
	var pkts []pcapgen.Packet
	srv := netip.MustParseAddrPort("192.0.2.1:8080")
	const n = 3000 // about 7 MB charged, against --memory 4 (3 MiB for flows)
	ts := time.Unix(1_700_000_000, 0)
	for i := range n {
		cli := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)}), 40000)
		pkts = append(pkts, pcapgen.Packet{TS: ts.Add(time.Duration(i) * time.Millisecond),
			Data: pcapgen.TCP(cli, srv, 1, 1, pcapgen.ACK|pcapgen.PSH, []byte("GET / HTTP/1.1\r\n"))})
	}
	var buf bytes.Buffer
	if err := pcapgen.WritePcap(&buf, pkts); err != nil {
		t.Fatal(err)
	}
	in := writeTemp(t, "flood.pcap", buf.Bytes())
	code, out, errOut := runCLI(t, "--memory", "4", "--workers", "1", "--protocols", "http", "-r", in)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.Contains(errOut, "because --memory 4 was reached") {
		t.Errorf("summary %q does not say flows ended for --memory", errOut)
	}
	if got := strings.Count(out, `"_path":"conn"`); got != n {
		t.Errorf("%d conn records, want %d", got, n)
	}
	if code, _, errOut := runCLI(t, "--memory", "-1"); code != 2 || !strings.Contains(errOut, "--memory") {
		t.Errorf("--memory -1: exit %d, %q", code, errOut)
	}
}
