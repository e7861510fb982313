// Package recordtest checks that a flowscope.Record keeps the contract
// every encoder relies on, the way testing/slogtest checks slog handlers:
// give it records of a kind (or of several), as a parser or a test makes
// them, and it fails the test where one does not describe itself right.
//
//	recordtest.Check(t, recs...)
//
// It checks that every record of a kind returns the same *Schema; that
// AppendValues appends exactly one value per field, leaving what vs
// held before it alone, gives the same values every time, and gives each
// field a value of the field's type (or leaves it unset), list elements
// included; and that every encoder of package sink writes the record:
// Zeek JSON as one valid JSON object whose "_path" is the kind, whose
// keys are the set fields in schema order, and whose values are of the
// JSON kind the field's type calls for, and a record's hand-written
// Zeek JSON (sink.ZeekJSONAppender, and the conn record's) byte for byte
// as its schema and values give it.
package recordtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/flowscope-go/flowscope"
	"github.com/flowscope-go/flowscope/sink"
)

// Check checks recs; see the package documentation.
func Check(t testing.TB, recs ...flowscope.Record) {
	t.Helper()
	schemas := map[string]*flowscope.Schema{}
	encs := [2]sink.ZeekJSON{{SchemaOnly: true}, {}}
	for i, r := range recs {
		if err := check(r, schemas, &encs); err != nil {
			t.Errorf("record %d (%T): %v", i, r, err)
		}
	}
}

func check(r flowscope.Record, schemas map[string]*flowscope.Schema, encs *[2]sink.ZeekJSON) error {
	s := r.Schema()
	if s == nil || s.Kind == "" {
		return fmt.Errorf("Schema() = %v: no kind", s)
	}
	if prev, ok := schemas[s.Kind]; ok && prev != s {
		return fmt.Errorf("kind %q: two records returned different *Schema values", s.Kind)
	}
	schemas[s.Kind] = s
	seen := map[string]bool{}
	for _, f := range s.Fields {
		if f.Name == "" || seen[f.Name] || f.Type.String() == "invalid" {
			return fmt.Errorf("kind %q: field %q (%v) is unnamed, repeated or of an invalid type", s.Kind, f.Name, f.Type)
		}
		seen[f.Name] = true
	}
	sentinel := flowscope.StringValue("before")
	vs := r.AppendValues([]flowscope.Value{sentinel})
	if len(vs) == 0 || vs[0].String() != "before" {
		return fmt.Errorf("AppendValues changed the values it was given to append to")
	}
	vs = vs[1:]
	if len(vs) != len(s.Fields) {
		return fmt.Errorf("AppendValues gave %d values for %d fields", len(vs), len(s.Fields))
	}
	again := r.AppendValues(nil)
	for i, f := range s.Fields {
		v := vs[i]
		if a := again[i]; a.Type() != v.Type() || a.String() != v.String() {
			return fmt.Errorf("field %q: %q the first time, %q the second", f.Name, v.String(), a.String())
		}
		if !v.Present() {
			continue
		}
		if v.Type() != f.Type {
			return fmt.Errorf("field %q of type %v holds a %v", f.Name, f.Type, v.Type())
		}
		if f.Type.IsList() {
			for j := range v.Len() {
				if e := v.Index(j); e.Type() != f.Type.Elem() {
					return fmt.Errorf("field %q of type %v: element %d is a %v", f.Name, f.Type, j, e.Type())
				}
			}
		}
	}
	b := encs[0].Append(nil, r)
	if fast := encs[1].Append(nil, r); !bytes.Equal(fast, b) {
		return fmt.Errorf("zeek JSON by hand differs from the schema's:\n  %s\n  %s", fast, b)
	}
	return checkJSON(b, s, vs)
}

// checkJSON checks a record's Zeek JSON against its schema and values.
func checkJSON(b []byte, s *flowscope.Schema, vs []flowscope.Value) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return fmt.Errorf("zeek JSON %s: not an object", b)
	}
	if tok, err := dec.Token(); err != nil || tok != "_path" {
		return fmt.Errorf("zeek JSON %s: _path does not come first", b)
	}
	var path string
	if err := dec.Decode(&path); err != nil || path != s.Kind {
		return fmt.Errorf("zeek JSON %s: _path %q, want %q", b, path, s.Kind)
	}
	next := 0
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return fmt.Errorf("zeek JSON %s: %v", b, err)
		}
		name, _ := tok.(string)
		i := next
		for i < len(s.Fields) && s.Fields[i].Name != name {
			i++
		}
		if i == len(s.Fields) {
			return fmt.Errorf("zeek JSON %s: key %q is not a field, or out of the schema's order", b, name)
		}
		for j := next; j < i; j++ {
			if vs[j].Present() {
				return fmt.Errorf("zeek JSON %s: field %q has a value but is not written", b, s.Fields[j].Name)
			}
		}
		if !vs[i].Present() {
			return fmt.Errorf("zeek JSON %s: field %q is unset but written", b, name)
		}
		next = i + 1
		var v any
		if err := dec.Decode(&v); err != nil {
			return fmt.Errorf("zeek JSON %s: field %q: %v", b, name, err)
		}
		if err := jsonKind(v, s.Fields[i].Type); err != nil {
			return fmt.Errorf("zeek JSON %s: field %q: %v", b, name, err)
		}
	}
	for j := next; j < len(s.Fields); j++ {
		if vs[j].Present() {
			return fmt.Errorf("zeek JSON %s: field %q has a value but is not written", b, s.Fields[j].Name)
		}
	}
	if _, err := dec.Token(); err != nil {
		return fmt.Errorf("zeek JSON %s: %v", b, err)
	}
	if dec.More() {
		return fmt.Errorf("zeek JSON %s: more than one object", b)
	}
	return nil
}

// jsonKind checks that a decoded JSON value is what a field of type t
// is written as.
func jsonKind(v any, t flowscope.Type) error {
	if t.IsList() {
		l, ok := v.([]any)
		if !ok {
			return fmt.Errorf("%v written as %T, want an array", t, v)
		}
		for _, e := range l {
			if err := jsonKind(e, t.Elem()); err != nil {
				return err
			}
		}
		return nil
	}
	ok := false
	switch t {
	case flowscope.TypeBool:
		_, ok = v.(bool)
	case flowscope.TypeCount, flowscope.TypeInt, flowscope.TypePort, flowscope.TypeTime, flowscope.TypeInterval:
		_, ok = v.(json.Number)
	case flowscope.TypeDouble:
		_, ok = v.(json.Number)
		ok = ok || v == nil // not finite
	case flowscope.TypeString, flowscope.TypeEnum, flowscope.TypeAddr:
		_, ok = v.(string)
	}
	if !ok {
		return fmt.Errorf("%v written as %T", t, v)
	}
	return nil
}
