package http1_test

import (
	"testing"

	"github.com/flowscope-go/flowscope"
	"github.com/flowscope-go/flowscope/flowkey"
	"github.com/flowscope-go/flowscope/parsers/http1"
)

// FuzzParser feeds arbitrary bytes as the two sides of a connection, cut
// at arbitrary points (as seen from the SYN or not), whole and until the
// session is done, and checks that the parser never panics and that
// what it reports holds together. Seeds are the HTTP connections of the
// embedded capture (real nginx and curl traffic).
func FuzzParser(f *testing.F) {
	for _, conv := range sampleConversations(f) {
		var orig, resp []byte
		for _, p := range conv {
			if p.Side == flowscope.Orig {
				orig = append(orig, p.Data...)
			} else {
				resp = append(resp, p.Data...)
			}
		}
		f.Add(orig, resp, uint8(7), uint16(0))
		f.Add(orig, resp, uint8(7|64), uint16(0))
	}
	f.Add([]byte("GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\n"), []byte("HTTP/1.1 200 OK\r\n\r\n"), uint8(3), uint16(5))
	f.Fuzz(func(t *testing.T, orig, resp []byte, cut uint8, gapAt uint16) {
		rec := &flowscope.Conn{}
		if cut&64 != 0 { // a connection seen from its SYN
			rec.Proto, rec.History = flowkey.ProtoTCP, flowscope.HistoryOf("S")
		}
		// Fed whole, and fed until the session says it is done, as the
		// tracker feeds it: the transactions must be the same.
		feed := func(untilDone bool) []*http1.Transaction {
			p := http1.Parser{MaxHeaderBytes: 4096, MaxHeaders: 16}.NewSession(rec)
			done := func() bool { return untilDone && p.(flowscope.Doner).Done() }
			step := int(cut%64) + 1
			var out []*http1.Transaction
			var all []*http1.Transaction
			for i := 0; i < max(len(orig), len(resp)) && !done(); i += step {
				if i < len(orig) {
					out = p.Data(flowscope.Orig, orig[i:min(i+step, len(orig))], int64(i), out[:0])
					all = append(all, out...)
				}
				if i == int(gapAt) && !done() {
					out = p.Gap(flowscope.Resp, uint64(gapAt)+1, int64(i), out[:0])
					all = append(all, out...)
				}
				if i < len(resp) && !done() {
					out = p.Data(flowscope.Resp, resp[i:min(i+step, len(resp))], int64(i), out[:0])
					all = append(all, out...)
				}
			}
			return append(all, p.End(&flowscope.FlowRecord{}, out[:0])...)
		}
		all := feed(false)
		for _, tx := range all {
			if tx.Request == nil && tx.Response == nil && len(tx.Interim) == 0 {
				t.Fatal("empty transaction")
			}
			if tx.Depth <= 0 {
				t.Fatalf("transaction depth %d", tx.Depth)
			}
			if r := tx.Request; r != nil && (len(r.Headers) > 16 || r.Method == "") {
				t.Fatalf("request with %d headers, method %q", len(r.Headers), r.Method)
			}
		}
		if got, want := summary(feed(true)), summary(all); got != want {
			t.Fatalf("fed until done:\n%s\nfed whole:\n%s", got, want)
		}
	})
}
