package zeekjson_test

import (
	"encoding/json"
	"testing"
	"unicode/utf8"

	"github.com/flowscope-go/flowscope/internal/zeekjson"
)

// FuzzAppendString: any bytes give valid JSON; valid UTF-8 comes
// back unchanged; each invalid byte and control character becomes one
// \u00XX escape.
func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "plain", `quote " and \ back`, "tab\tnew\nline", "del\x7f", "caf\xc3\xa9", "bad\xff\xfe", "\xe2\x82", "日本語"} {
		f.Add(s)
	}
	// Words of eight with the byte that needs a look at each place.
	for _, c := range []byte{0, 0x1f, '"', '\\', 0x7f, 0x80, 0xff, 0x20, 0x7e, 0x21, 0x5b, 0x5d} {
		for at := range 17 {
			w := []byte("abcdefghijklmnopq")
			w[at] = c
			f.Add(string(w))
		}
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := zeekjson.AppendString([]byte("x"), s)
		if out[0] != 'x' || !json.Valid(out[1:]) {
			t.Fatalf("%q: not valid JSON: %q", s, out)
		}
		var back string
		if err := json.Unmarshal(out[1:], &back); err != nil {
			t.Fatal(err)
		}
		if utf8.ValidString(s) && back != s {
			t.Fatalf("%q came back as %q", s, back)
		}
		if want := appendJSONStringByByte([]byte("x"), s); string(out) != string(want) {
			t.Fatalf("%q: %q, byte by byte %q", s, out, want)
		}
	})
}

// appendJSONStringByByte is AppendString one byte at a time, the
// reference for its word-at-a-time scan.
func appendJSONStringByByte(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20 || c == 0x7f:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		case c < utf8.RuneSelf:
			b = append(b, c)
		default:
			r, n := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && n == 1 {
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			} else {
				b = append(b, s[i:i+n]...)
			}
			i += n
			continue
		}
		i++
	}
	return append(b, '"')
}

func TestAppendStringEscapes(t *testing.T) {
	for in, want := range map[string]string{
		"a\"b\\c":      `"a\"b\\c"`,
		"\x00\x1f\x7f": `"\u0000\u001f\u007f"`,
		"ok\xffok":     `"ok\u00ffok"`,
		"é":            `"é"`,
	} {
		if got := string(zeekjson.AppendString(nil, in)); got != want {
			t.Errorf("%q: got %s, want %s", in, got, want)
		}
	}
}

func BenchmarkAppendString(b *testing.B) {
	s := "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"
	buf := make([]byte, 0, 256)
	b.SetBytes(int64(len(s)))
	for b.Loop() {
		buf = zeekjson.AppendString(buf[:0], s)
	}
}
