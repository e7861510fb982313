package http1_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/flowscope-go/flowscope"
	"github.com/flowscope-go/flowscope/parsers/http1"
)

// FuzzAgainstNetHTTP reads a client's bytes with the parser and with
// net/http's ReadRequest, request after request, and fails when net/http
// reads requests whole and the parser disagrees about any of them: its
// method, target, version, body length, or how many there are. Where
// net/http refuses what it is given, the parser may still report it
// (flagged: a passive analyser reports what was sent). The cases where
// RFC 9112 sides with the parser against net/http are in nethttpAllowed.
func FuzzAgainstNetHTTP(f *testing.F) {
	for _, s := range []string{
		"GET / HTTP/1.1\r\nHost: h\r\n\r\n",
		"POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhelloGET /2 HTTP/1.1\r\nHost: h\r\n\r\n",
		"POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
		"GET /a HTTP/1.0\r\n\r\n",
		"PUT /x HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nX: a\r\n b\r\n\r\nabc",
		"GET / HTTP/1.1\nHost: h\n\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		want, ok := netHTTPRequests(data)
		if !ok || len(want) == 0 {
			return
		}
		p := http1.Parser{}.NewSession(nil)
		out := p.Data(flowscope.Orig, data, 1, nil)
		out = p.End(&flowscope.FlowRecord{}, out)
		var got []string
		var flags http1.Flags
		for _, tx := range out {
			if r := tx.Request; r != nil {
				got = append(got, fmt.Sprintf("%s %s %s %d", r.Method, r.Target, r.Version, r.BodyLen))
				flags |= r.Flags
			}
		}
		if strings.Join(got, "\n") == strings.Join(want, "\n") {
			return
		}
		if why := nethttpAllowed(data, want, flags); why != "" {
			t.Skip(why)
		}
		t.Fatalf("%q:\nparser  %q\nnet/http %q", data, got, want)
	})
}

// netHTTPRequests reads data as requests with net/http; ok only when all
// of it was read as whole requests.
func netHTTPRequests(data []byte) (reqs []string, ok bool) {
	br := bufio.NewReader(bytes.NewReader(data))
	for {
		if _, err := br.Peek(1); err == io.EOF {
			return reqs, true
		}
		req, err := http.ReadRequest(br)
		if err != nil {
			return nil, false
		}
		n, err := io.Copy(io.Discard, req.Body)
		if err != nil {
			return nil, false
		}
		reqs = append(reqs, fmt.Sprintf("%s %s %d.%d %d", req.Method, req.RequestURI, req.ProtoMajor, req.ProtoMinor, n))
	}
}

// nethttpAllowed says why net/http and the parser may disagree on data,
// when RFC 9112 (or the facts of capture) side with the parser; "" when
// they may not.
func nethttpAllowed(data []byte, want []string, flags http1.Flags) string {
	s := string(data)
	if flags&http1.BadFieldName != 0 {
		// RFC 9110 §5.1, RFC 9112 §5.1: a field name is a token, with no
		// whitespace before its colon; a server rejects the request and
		// reads no further. net/http takes names with spaces inside.
		return "a field name that is not a token: the request rejected"
	}
	for _, w := range want {
		method, _, _ := strings.Cut(w, " ")
		if strings.Trim(method, "ABCDEFGHIJKLMNOPQRSTUVWXYZ-_") != "" || len(method) > 24 {
			// RFC 9110 allows any token; the parser finds HTTP by content
			// on any port, and takes only methods of capitals, '-' and
			// '_', of at most 24 bytes, for the start of a request.
			return "a method not of capitals, or longer than 24 bytes: not taken for a request"
		}
	}
	switch {
	case strings.Contains(strings.ReplaceAll(s, "\r\n", ""), "\r"):
		return "a bare CR: read as a space (RFC 9112 §2.2), net/http refuses or keeps it"
	}
	return ""
}
