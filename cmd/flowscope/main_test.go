package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/flowscope-go/flowscope/internal/sample"
)

var update = flag.Bool("update", false, "rewrite golden files")

func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var o, e bytes.Buffer
	code = run(context.Background(), args, &o, &e)
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
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("not JSON: %q", line)
		}
		for _, k := range []string{"_path", "ts", "uid", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "proto",
			"conn_state", "missed_bytes", "history", "orig_pkts", "orig_ip_bytes", "resp_pkts", "resp_ip_bytes", "community_id", "end_reason"} {
			if _, ok := rec[k]; !ok {
				t.Errorf("record lacks %q: %s", k, line)
			}
		}
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
	_, out, errOut := runCLI(t, "--workers", "2", "-r", cut)
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
	code, stdout, errOut := runCLI(t, "-r", in, "-r", in, "-w", out)
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
	for _, args := range [][]string{{"--bogus"}, {"--format", "xml"}, {"--protocols", "gopher"}, {"--workers", "0"}, {"capture.pcap"}} {
		if code, _, errOut := runCLI(t, args...); code != 2 || errOut == "" || strings.Count(errOut, "\n") > 2 {
			t.Errorf("%v: exit %d, stderr %q; want 2 and a short message", args, code, errOut)
		}
	}
	if code, _, _ := runCLI(t, "--protocols", "none", "-q"); code != 0 {
		t.Errorf("--protocols none: exit %d", code)
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
	files, _ := filepath.Glob(filepath.Join(dir, "*.txt"))
	if len(files) != 5 {
		t.Errorf("%d .txt transcripts, want 5", len(files))
	}
	if code, _, errOut := runCLI(t, "-q", "--transcripts", "/proc/no/such/dir"); code != 1 || !strings.Contains(errOut, "transcripts") {
		t.Errorf("unwritable directory: exit %d, %q", code, errOut)
	}
}
