package conversation_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"

	"github.com/flowscope-go/flowscope"
	"github.com/flowscope-go/flowscope/conversation"
	"github.com/flowscope-go/flowscope/flowkey"
	"github.com/flowscope-go/flowscope/internal/sample"
	"github.com/flowscope-go/flowscope/source"
)

// Print the first line each side of every HTTP connection sent, in
// conversation order.
func ExampleHandle() {
	src, err := source.NewReader(sample.Name, bytes.NewReader(sample.Capture))
	if err != nil {
		panic(err)
	}
	cfg := flowscope.Config{NewStream: conversation.Handle(func(c *conversation.Conn) flowscope.StreamHandler {
		if c.Resp.Port() != 8080 {
			return nil // only the HTTP server
		}
		return flowscope.StreamFuncs{OnChunk: func(ch *flowscope.Chunk) {
			if line, _, ok := strings.Cut(string(ch.Bytes), "\r\n"); ok && ch.Offset == 0 {
				fmt.Printf("%v: %s\n", ch.Side, line)
			}
		}}
	})}
	tr := flowscope.NewTracker(flowkey.FiveTupleExtractor{}, &cfg)
	var b source.Batch
	for src.ReadBatch(context.Background(), &b) == nil {
		for i := range b.Packets {
			tr.Track(&b.Packets[i], nil)
		}
	}
	tr.Flush(flowscope.EndOfInput, nil)
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
