package conversation_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"

	"github.com/flowscope-go/flowscope"
	"github.com/flowscope-go/flowscope/conversation"
	"github.com/flowscope-go/flowscope/flowkey"
	"github.com/flowscope-go/flowscope/sample"
	"github.com/flowscope-go/flowscope/source"
)

// Print the first line each side of every HTTP connection sent, in
// conversation order.
func ExampleParser() {
	src, err := source.NewReader(sample.Name, bytes.NewReader(sample.Capture))
	if err != nil {
		panic(err)
	}
	d := flowscope.NewDriver(flowkey.FiveTupleExtractor{}, &flowscope.Config{
		Parsers: []flowscope.Parser{flowscope.Session(conversation.Parser{})}})
	var recs []flowscope.Record
	var b source.Batch
	for src.ReadBatch(context.Background(), &b) == nil {
		for i := range b.Packets {
			recs = d.Track(&b.Packets[i], recs)
		}
	}
	recs = d.Flush(flowscope.EndOfInput, recs)
	for _, r := range recs {
		e, ok := r.(*conversation.Event)
		if !ok || e.Conn.Resp.Port() != 8080 || e.Kind != conversation.Data || e.Offset != 0 {
			continue // the first bytes of each side of the HTTP server's connections
		}
		if line, _, ok := strings.Cut(string(e.Bytes), "\r\n"); ok {
			fmt.Printf("%v: %s\n", e.Side, line)
		}
	}
	// Output:
	// orig: GET / HTTP/1.1
	// resp: HTTP/1.1 200 OK
	// orig: GET /big.txt HTTP/1.1
	// resp: HTTP/1.1 200 OK
	// orig: GET /index.html HTTP/1.1
	// resp: HTTP/1.1 200 OK
	// orig: POST /echo HTTP/1.1
	// resp: HTTP/1.1 200 OK
}
