package http1_test

import (
	"strings"
	"testing"

	"github.com/flowscope-go/flowscope"
	"github.com/flowscope-go/flowscope/parsers/http1"
)

// BenchmarkGET200 parses a typical browser GET and its 200 response on
// one keep-alive connection, each message in one piece.
func BenchmarkGET200(b *testing.B) {
	req := []byte("GET /static/app.js?v=3 HTTP/1.1\r\nHost: www.example.com\r\n" +
		"User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0\r\n" +
		"Accept: */*\r\nAccept-Language: en-US,en;q=0.5\r\nAccept-Encoding: gzip, deflate, br\r\n" +
		"Referer: https://www.example.com/\r\nConnection: keep-alive\r\nCookie: session=abc123\r\n\r\n")
	resp := []byte("HTTP/1.1 200 OK\r\nServer: nginx\r\nDate: Fri, 27 Nov 2026 16:55:08 GMT\r\n" +
		"Content-Type: application/javascript\r\nContent-Length: 1200\r\nConnection: keep-alive\r\n" +
		"Cache-Control: max-age=3600\r\nETag: \"abc\"\r\n\r\n" + strings.Repeat("x", 1200))
	p := http1.Parser{}.NewSession(&flowscope.Conn{})
	out := make([]*http1.Transaction, 0, 4)
	b.ReportAllocs()
	b.SetBytes(int64(len(req) + len(resp)))
	n := 0
	for b.Loop() {
		out = p.Data(flowscope.Orig, req, 0, out[:0])
		out = p.Data(flowscope.Resp, resp, 0, out[:0])
		n += len(out)
	}
	if n != b.N {
		b.Fatalf("%d transactions for %d exchanges", n, b.N)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}
