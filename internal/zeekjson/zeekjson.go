// Package zeekjson holds the pieces of Zeek JSON encoding shared by
// sink's ZeekJSON encoder and the hand-written encodings of the built-in
// records (their fast paths, held to the schema by recordtest).
package zeekjson

import (
	"strconv"
	"unicode/utf8"

	"github.com/flowscope-go/flowscope"
)

// AppendSeconds appends ns as seconds with six decimals, as our Zeek
// JSON writes times and intervals.
func AppendSeconds(b []byte, ns int64) []byte {
	u := uint64(ns)
	if ns < 0 {
		b = append(b, '-')
		u = -u // the magnitude, right for math.MinInt64 too
	}
	us := u / 1e3
	b = strconv.AppendUint(b, us/1e6, 10)
	b = append(b, '.')
	frac := us % 1e6
	for d := uint64(100000); d > 0; d /= 10 {
		b = append(b, byte('0'+frac/d%10))
	}
	return b
}

const hexDigits = "0123456789abcdef"

// AppendString appends s as a JSON string. Valid UTF-8 is kept; control
// characters and bytes that are not valid UTF-8 are escaped as \u00XX,
// so any captured bytes give valid JSON.
func AppendString[S ~string | ~[]byte](b []byte, s S) []byte {
	b = append(b, '"')
	// Runs of bytes that need no escaping are appended whole.
	start := 0
	for i := 0; i < len(s); {
		// Eight bytes at a time while none needs a look.
		for i+8 <= len(s) && !needsLook(load64(s[i:])) {
			i += 8
		}
		if i == len(s) {
			break
		}
		c := s[i]
		if jsonPlain[c] {
			i++
			continue
		}
		b = append(b, s[start:i]...)
		if c < utf8.RuneSelf {
			if c == '"' || c == '\\' {
				b = append(b, '\\', c)
			} else {
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
		} else if r, n := utf8.DecodeRuneInString(string(s[i:min(i+utf8.UTFMax, len(s))])); r == utf8.RuneError && n == 1 {
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			i++
		} else {
			b = append(b, s[i:i+n]...)
			i += n
		}
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// load64 reads the first eight bytes of s, little-endian (one load).
func load64[S ~string | ~[]byte](s S) uint64 {
	_ = s[7]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// needsLook reports whether any byte of w is not plain (see jsonPlain):
// a control character, a quote, a backslash, DEL, or not ASCII. It is the
// word-at-a-time "has a byte below n" trick, once for bytes below 0x20
// and once for each of the other three XORed to zero: a byte's borrow
// can mark the byte above it falsely, but only when it is itself a hit,
// so the answer for the whole word is exact. A word with a non-ASCII byte
// answers true by w&highs before the rest matters.
func needsLook(w uint64) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	q, bs, del := w^(ones*'"'), w^(ones*'\\'), w^(ones*0x7f)
	return ((w-ones*0x20)|(q-ones)|(bs-ones)|(del-ones))&^(w&q&bs&del)&highs|w&highs != 0
}

// jsonPlain marks the bytes AppendJSONString copies as they are: printable
// ASCII but the quote and the backslash.
var jsonPlain = func() (t [256]bool) {
	for c := 0x20; c < 0x7f; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// AppendField appends `,"name":` and value as a JSON string.
func AppendField(b []byte, name, value string) []byte {
	b = append(b, `,"`...)
	b = append(b, name...)
	b = append(b, `":`...)
	return AppendString(b, value)
}

// AppendStrings appends ,"name":[...] with the strings of vs.
func AppendStrings(b []byte, name string, vs []string) []byte {
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, `":[`...)
	for i, v := range vs {
		if i > 0 {
			b = append(b, ',')
		}
		b = AppendString(b, v)
	}
	return append(b, ']')
}

// AppendBool appends `,"name":` and v.
func AppendBool(b []byte, name string, v bool) []byte {
	b = append(b, `,"`...)
	b = append(b, name...)
	b = append(b, `":`...)
	return strconv.AppendBool(b, v)
}

// AppendConnID appends the opening of a protocol record, the fields
// every one starts with: _path, ts, uid, id.orig_h, id.orig_p,
// id.resp_h, id.resp_p (the last five unset for a nil Conn).
func AppendConnID(b []byte, path string, ts int64, c *flowscope.Conn) []byte {
	b = append(b, `{"_path":`...)
	b = AppendString(b, path)
	b = append(b, `,"ts":`...)
	b = AppendSeconds(b, ts)
	if c == nil {
		return b
	}
	b = append(b, `,"uid":`...)
	b = AppendString(b, c.UID)
	if a := c.Orig.Addr(); a.IsValid() {
		b = append(b, `,"id.orig_h":"`...)
		b = a.AppendTo(b)
		b = append(b, '"')
	}
	b = append(b, `,"id.orig_p":`...)
	b = strconv.AppendUint(b, uint64(c.Orig.Port()), 10)
	if a := c.Resp.Addr(); a.IsValid() {
		b = append(b, `,"id.resp_h":"`...)
		b = a.AppendTo(b)
		b = append(b, '"')
	}
	b = append(b, `,"id.resp_p":`...)
	return strconv.AppendUint(b, uint64(c.Resp.Port()), 10)
}
