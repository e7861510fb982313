package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"testing"

	"github.com/flowscope-go/flowscope/internal/analyze"
	"github.com/flowscope-go/flowscope/source"
)

// TestGenerateDeterministic: the same mix and seed give the same bytes,
// another seed other bytes.
func TestGenerateDeterministic(t *testing.T) {
	mix := DefaultMix.Scaled(0.002)
	digest := func(seed uint64) [32]byte {
		var b bytes.Buffer
		if _, err := Generate(&b, mix, seed); err != nil {
			t.Fatal(err)
		}
		return sha256.Sum256(b.Bytes())
	}
	if a, b := digest(7), digest(7); a != b {
		t.Error("two runs with seed 7 differ")
	}
	if a, b := digest(7), digest(8); a == b {
		t.Error("seeds 7 and 8 give the same capture")
	}
}

// TestGenerateAnalyzable runs the analyser on a small workload and checks
// that what the generator says it put in comes out: every flow, and
// nearly every HTTP exchange, TLS handshake and DNS query (the
// impairments may hide a few).
func TestGenerateAnalyzable(t *testing.T) {
	var pcap bytes.Buffer
	sum, err := Generate(&pcap, DefaultMix.Scaled(0.005), 1)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Packets < 10*int64(sum.Flows) || sum.ClientIPv6Flows == 0 || sum.DNSOverTCP == 0 || sum.BulkBytes == 0 {
		t.Fatalf("summary %+v: not the mix asked for", sum)
	}
	src, err := source.NewReader("workload", &pcap)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if _, err := analyze.Run(context.Background(), src, &out, analyze.Options{}); err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for line := range bytes.Lines(out.Bytes()) {
		var r struct {
			Path string `json:"_path"`
		}
		if err := json.Unmarshal(line, &r); err != nil {
			t.Fatalf("%v: %s", err, line)
		}
		count[r.Path]++
	}
	t.Logf("summary %+v; records %v", sum, count)
	if count["conn"] != sum.Flows {
		t.Errorf("%d conn records for %d flows", count["conn"], sum.Flows)
	}
	for _, c := range []struct {
		path string
		want int
	}{{"http", sum.HTTPExchanges}, {"ssl", sum.TLSHandshakes}, {"dns", sum.DNSQueries}} {
		if got := count[c.path]; got < c.want*95/100 || got > c.want*105/100 {
			t.Errorf("%d %s records, generated %d", got, c.path, c.want)
		}
	}
}
