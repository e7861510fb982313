package sink

import (
	"math"
	"strconv"
	"unicode/utf8"

	"github.com/flowscope-go/flowscope"
)

// Encoder writes records in one format: Append appends one record,
// without a line end, to a buffer. An encoder knows formats, not record
// types: it writes any flowscope.Record from its schema and values. An
// Encoder is not safe for concurrent use: give each sink its own.
type Encoder interface {
	Append(b []byte, r flowscope.Record) []byte
}

// ZeekJSON encodes records as Zeek's JSON logs do, one object per record:
// "_path" (the record's kind) first, then each field that has a value,
// in the schema's order, under its Zeek name. Times and intervals are
// seconds with six decimals; counts, ints, ports and doubles are numbers
// (a double that is not finite is null); strings and enums are JSON
// strings (valid UTF-8 kept, control characters and bytes that are not
// UTF-8 escaped as \u00XX, so any captured bytes give valid JSON);
// addresses are strings in RFC 5952 form; sets and vectors are arrays,
// an empty one [].
//
// The zero ZeekJSON is ready to use. It is not safe for concurrent use.
type ZeekJSON struct {
	// last is the schema of the previous record and its keys: records of
	// one kind tend to come together, and then need no map lookup.
	last     *flowscope.Schema
	lastKeys *jsonKeys
	keys     map[*flowscope.Schema]*jsonKeys
	vals     []flowscope.Value
	text     []byte
}

// jsonKeys are a schema's encoded keys: the object's opening with its
// _path, and `,"name":` for each field.
type jsonKeys struct {
	open   []byte
	fields [][]byte
}

func newJSONKeys(s *flowscope.Schema) *jsonKeys {
	k := &jsonKeys{open: AppendJSONString(append([]byte(nil), `{"_path":`...), s.Kind)}
	for _, f := range s.Fields {
		key := AppendJSONString([]byte{','}, f.Name)
		k.fields = append(k.fields, append(key, ':'))
	}
	return k
}

func (z *ZeekJSON) keysOf(s *flowscope.Schema) *jsonKeys {
	if s == z.last {
		return z.lastKeys
	}
	k := z.keys[s]
	if k == nil {
		if z.keys == nil {
			z.keys = map[*flowscope.Schema]*jsonKeys{}
		}
		k = newJSONKeys(s)
		z.keys[s] = k
	}
	z.last, z.lastKeys = s, k
	return k
}

// Append appends r as one JSON object to b.
func (z *ZeekJSON) Append(b []byte, r flowscope.Record) []byte {
	s := r.Schema()
	k := z.keysOf(s)
	z.vals = r.AppendValues(z.vals[:0])
	b = append(b, k.open...)
	for i := range min(len(z.vals), len(k.fields)) {
		v := &z.vals[i]
		if !v.Present() {
			continue
		}
		b = append(b, k.fields[i]...)
		b = z.appendValue(b, v)
	}
	clear(z.vals) // values may point into the record: keep nothing alive
	return append(b, '}')
}

func (z *ZeekJSON) appendValue(b []byte, v *flowscope.Value) []byte {
	t := v.Type()
	if t.IsList() {
		b = append(b, '[')
		for i := range v.Len() {
			if i > 0 {
				b = append(b, ',')
			}
			e := v.Index(i)
			b = z.appendValue(b, &e)
		}
		return append(b, ']')
	}
	switch t {
	case flowscope.TypeBool:
		return strconv.AppendBool(b, v.Bool())
	case flowscope.TypeCount, flowscope.TypePort:
		return strconv.AppendUint(b, v.Count(), 10)
	case flowscope.TypeInt:
		return strconv.AppendInt(b, v.Int(), 10)
	case flowscope.TypeDouble:
		f := v.Double()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return append(b, "null"...)
		}
		return strconv.AppendFloat(b, f, 'g', -1, 64)
	case flowscope.TypeTime:
		return appendSeconds(b, v.Time())
	case flowscope.TypeInterval:
		return appendSeconds(b, int64(v.Interval()))
	case flowscope.TypeString, flowscope.TypeEnum:
		z.text = v.AppendText(z.text[:0])
		return appendJSONString(b, z.text)
	case flowscope.TypeAddr:
		b = append(b, '"')
		b = v.Addr().AppendTo(b)
		return append(b, '"')
	}
	return append(b, "null"...)
}

// appendSeconds appends ns as seconds with six decimals, as Zeek's JSON
// writer prints times and intervals.
func appendSeconds(b []byte, ns int64) []byte {
	if ns < 0 {
		b = append(b, '-')
		ns = -ns
	}
	us := ns / 1e3
	b = strconv.AppendInt(b, us/1e6, 10)
	b = append(b, '.')
	frac := us % 1e6
	for d := int64(100000); d > 0; d /= 10 {
		b = append(b, byte('0'+frac/d%10))
	}
	return b
}

var _ Encoder = (*ZeekJSON)(nil)

const hexDigits = "0123456789abcdef"

// AppendJSONString appends s as a JSON string. Valid UTF-8 is kept;
// control characters and bytes that are not valid UTF-8 are escaped as
// \u00XX, so any captured bytes give valid JSON.
func AppendJSONString(b []byte, s string) []byte { return appendJSONString(b, s) }

func appendJSONString[S ~string | ~[]byte](b []byte, s S) []byte {
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
