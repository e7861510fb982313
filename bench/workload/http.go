package main

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
)

var (
	userAgents = []string{
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.0 Safari/605.1.15",
		"Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0",
		"curl/8.10.1",
		"python-requests/2.32.3",
		"Go-http-client/1.1",
	}
	servers = []string{"nginx/1.24.0", "Apache/2.4.62 (Debian)", "cloudflare", "Microsoft-IIS/10.0", "gunicorn"}
	words   = []string{"api", "v1", "v2", "static", "assets", "img", "css", "js", "user", "account", "search",
		"product", "items", "cart", "checkout", "news", "blog", "article", "media", "video", "feed", "auth",
		"login", "session", "config", "metrics", "health", "status", "download", "files", "docs", "help"}
	exts = []struct{ ext, ctype string }{
		{"", "text/html; charset=utf-8"}, {".js", "application/javascript"}, {".css", "text/css"},
		{".png", "image/png"}, {".jpg", "image/jpeg"}, {".json", "application/json"}, {".woff2", "font/woff2"},
		{".svg", "image/svg+xml"}, {".gif", "image/gif"}, {".mp4", "video/mp4"},
	}
	tlds = []string{"com", "net", "org", "io", "de", "co.uk", "fr", "jp"}
)

// hostName returns the n-th of the workload's host names.
func hostName(n int) string {
	a, b := words[n%len(words)], words[(n/len(words))%len(words)]
	return fmt.Sprintf("%s%d.%s-%s.%s", []string{"www", "cdn", "api", "static", "img", "m"}[n%6], n%97, a, b, tlds[n%len(tlds)])
}

// bodySize draws a response body size: log-normal around 3 KB with a long
// tail, capped at 2 MB, as web object sizes are.
func bodySize(rng *rand.Rand) int {
	return int(min(2<<20, max(40, math.Exp(math.Log(3000)+1.3*rng.NormFloat64()))))
}

// text returns n bytes of printable filler.
func text(rng *rand.Rand, n int) []byte { return cut(rng, filler, n) }

// cut returns n bytes of block from a random offset, repeating the block
// when n is larger.
func cut(rng *rand.Rand, block []byte, n int) []byte {
	if n <= 0 {
		return nil
	}
	if n <= len(block) {
		off := rng.IntN(len(block) - n + 1)
		return block[off : off+n]
	}
	b := make([]byte, 0, n)
	for len(b) < n {
		b = append(b, block[:min(len(block), n-len(b))]...)
	}
	return b
}

// filler is 1 MiB of HTML-ish text that bodies are cut from.
var filler = func() []byte {
	rng := rand.New(rand.NewPCG(1, 2))
	var b strings.Builder
	for b.Len() < 1<<20 {
		w := words[rng.IntN(len(words))]
		switch rng.IntN(8) {
		case 0:
			fmt.Fprintf(&b, "<div class=\"%s\">", w)
		case 1:
			b.WriteString("</div>\n")
		case 2:
			fmt.Fprintf(&b, "{\"%s\":%d,", w, rng.IntN(100000))
		default:
			b.WriteString(w)
			b.WriteByte(' ')
		}
	}
	return []byte(b.String()[:1<<20])
}()

// random is 1 MiB of random bytes, for encrypted payloads.
var random = func() []byte {
	rng := rand.New(rand.NewPCG(3, 4))
	b := make([]byte, 1<<20)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}()

func randomBytes(rng *rand.Rand, n int) []byte { return cut(rng, random, n) }

// httpExchange returns one request and its response.
func httpExchange(rng *rand.Rand, host string, when time.Time, last bool) (req, resp []byte) {
	var path strings.Builder
	for range 1 + rng.IntN(4) {
		path.WriteByte('/')
		path.WriteString(words[rng.IntN(len(words))])
	}
	e := exts[rng.IntN(len(exts))]
	path.WriteString(e.ext)
	if rng.IntN(4) == 0 {
		fmt.Fprintf(&path, "?id=%d&page=%d", rng.IntN(1e6), rng.IntN(20))
	}
	method := "GET"
	var reqBody []byte
	if rng.IntN(10) == 0 {
		method = "POST"
		reqBody = text(rng, 100+rng.IntN(4000))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: %s\r\n", method, path.String(), host, userAgents[rng.IntN(len(userAgents))])
	b.WriteString("Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\nAccept-Language: en-US,en;q=0.5\r\nAccept-Encoding: gzip, deflate, br\r\n")
	if rng.IntN(2) == 0 {
		fmt.Fprintf(&b, "Referer: http://%s/%s\r\n", host, words[rng.IntN(len(words))])
	}
	if rng.IntN(3) == 0 {
		fmt.Fprintf(&b, "Cookie: session=%x; prefs=%s\r\n", rng.Uint64(), words[rng.IntN(len(words))])
	}
	if reqBody != nil {
		fmt.Fprintf(&b, "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n", len(reqBody))
	}
	if last {
		b.WriteString("Connection: close\r\n")
	} else {
		b.WriteString("Connection: keep-alive\r\n")
	}
	b.WriteString("\r\n")
	req = append([]byte(b.String()), reqBody...)

	status, reason := 200, "OK"
	switch r := rng.IntN(100); {
	case r < 8:
		status, reason = 304, "Not Modified"
	case r < 12:
		status, reason = 404, "Not Found"
	case r < 15:
		status, reason = 301, "Moved Permanently"
	}
	n := bodySize(rng)
	switch status {
	case 304:
		n = 0
	case 404, 301:
		n = 150 + rng.IntN(300)
	}
	b.Reset()
	fmt.Fprintf(&b, "HTTP/1.1 %d %s\r\nServer: %s\r\nDate: %s\r\n", status, reason, servers[rng.IntN(len(servers))], when.UTC().Format(http1Date))
	if status == 301 {
		fmt.Fprintf(&b, "Location: https://%s%s\r\n", host, path.String())
	}
	body := text(rng, n)
	chunked := status == 200 && rng.IntN(10) == 0
	if status != 304 {
		fmt.Fprintf(&b, "Content-Type: %s\r\n", e.ctype)
		if chunked {
			b.WriteString("Transfer-Encoding: chunked\r\n")
		} else {
			fmt.Fprintf(&b, "Content-Length: %d\r\n", n)
		}
	}
	fmt.Fprintf(&b, "Cache-Control: max-age=%d\r\nETag: \"%x\"\r\n", 60*rng.IntN(1440), rng.Uint32())
	if last {
		b.WriteString("Connection: close\r\n")
	} else {
		b.WriteString("Connection: keep-alive\r\n")
	}
	b.WriteString("\r\n")
	resp = []byte(b.String())
	if !chunked {
		return req, append(resp, body...)
	}
	for len(body) > 0 {
		k := min(len(body), 4096+rng.IntN(8192))
		resp = append(resp, strconv.FormatInt(int64(k), 16)+"\r\n"...)
		resp = append(resp, body[:k]...)
		resp = append(resp, "\r\n"...)
		body = body[k:]
	}
	return req, append(resp, "0\r\n\r\n"...)
}

const http1Date = "Mon, 02 Jan 2006 15:04:05 GMT"
