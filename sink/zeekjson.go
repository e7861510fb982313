package sink

import (
	"math"
	"strconv"

	"github.com/flowscope-go/flowscope"
	"github.com/flowscope-go/flowscope/internal/zeekjson"
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
// Records that implement ZeekJSONAppender, and conn records, are written
// by their hand-written encodings, which give the same bytes (recordtest
// holds them to it) faster: on the benchmark workload, where they are
// most of the records, the schema's way takes 1.6-2.4 times as long
// (BenchmarkZeekJSON).
//
// The zero ZeekJSON is ready to use. It is not safe for concurrent use.
type ZeekJSON struct {
	// SchemaOnly makes Append write every record from its schema and
	// values, not by its hand-written encoding; tests use it to hold
	// the two to each other.
	SchemaOnly bool

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
	k := &jsonKeys{open: zeekjson.AppendString(append([]byte(nil), `{"_path":`...), s.Kind)}
	for _, f := range s.Fields {
		key := zeekjson.AppendString([]byte{','}, f.Name)
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

// ZeekJSONAppender is implemented by records with a hand-written Zeek
// JSON encoding: AppendZeekJSON appends what ZeekJSON would write from
// the record's schema and values, byte for byte, to b.
type ZeekJSONAppender interface {
	AppendZeekJSON(b []byte) []byte
}

// Append appends r as one JSON object to b.
func (z *ZeekJSON) Append(b []byte, r flowscope.Record) []byte {
	if !z.SchemaOnly {
		switch r := r.(type) {
		case *flowscope.FlowRecord:
			return appendConn(b, r)
		case ZeekJSONAppender:
			return r.AppendZeekJSON(b)
		}
	}
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
		return zeekjson.AppendSeconds(b, v.Time())
	case flowscope.TypeInterval:
		return zeekjson.AppendSeconds(b, int64(v.Interval()))
	case flowscope.TypeString, flowscope.TypeEnum:
		z.text = v.AppendText(z.text[:0])
		return zeekjson.AppendString(b, z.text)
	case flowscope.TypeAddr:
		b = append(b, '"')
		b = v.Addr().AppendTo(b)
		return append(b, '"')
	}
	return append(b, "null"...)
}

var _ Encoder = (*ZeekJSON)(nil)
