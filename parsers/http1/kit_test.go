package http1_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/flowscope-go/flowscope"
	"github.com/flowscope-go/flowscope/parsers/http1"
	"github.com/flowscope-go/flowscope/parsers/parsertest"
	"github.com/flowscope-go/flowscope/sample"
	"github.com/flowscope-go/flowscope/source"
)

// render identifies a transaction by everything the parser fills in.
func render(tx *http1.Transaction) string {
	var b strings.Builder
	fmt.Fprintf(&b, "#%d flags=%v", tx.Depth, tx.Flags.Names())
	if q := tx.Request; q != nil {
		fmt.Fprintf(&b, " %s %s %s %v cl=%d chunked=%v body=%d", q.Method, q.Target, q.Version, q.Headers, q.ContentLength, q.Chunked, q.BodyLen)
	}
	if r := tx.Response; r != nil {
		fmt.Fprintf(&b, " -> %d %s %s %v body=%d", r.Status, r.Reason, r.Version, r.Headers, r.BodyLen)
	}
	for _, i := range tx.Interim {
		fmt.Fprintf(&b, " +%d", i.Status)
	}
	return b.String()
}

// sampleConversations are the HTTP connections of the embedded capture,
// as the reassembler delivers them.
func sampleConversations(t testing.TB) []parsertest.Conversation {
	t.Helper()
	src, err := source.NewReader(sample.Name, bytes.NewReader(sample.Capture))
	if err != nil {
		t.Fatal(err)
	}
	convs, _ := parsertest.Read(t, src, func(c *flowscope.Conn) bool { return c.Resp.Port() == 8080 })
	return convs
}

func TestParserKit(t *testing.T) {
	convs := sampleConversations(t)
	chunked := parsertest.Conversation{
		{Side: O, Data: []byte("POST /up HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nwiki\r\n0\r\n\r\n")},
		{Side: R, Data: []byte("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nT: 1\r\n\r\n")},
		{Side: O, Data: []byte("HEAD / HTTP/1.1\r\nHost: h\r\n\r\n")},
		{Side: R, Data: []byte("HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n")},
	}
	// A status line inside another line is not one, however the bytes
	// are cut.
	lure := parsertest.Conversation{
		{Side: O, Data: []byte("GET / HTTP/1.1\r\nHost: h\r\n\r\n")},
		{Side: R, Data: []byte("junk xxHTTP/1.1 404 Lure\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")},
	}
	parsertest.Run(t, http1.Parser{}, append(convs, chunked, lure), render)
}
