package flowscope

import "fmt"

// Record is anything a pipeline produces for its user: a flow's conn
// record (*FlowRecord), a protocol parser's message (an HTTP transaction,
// a DNS transaction, a TLS handshake), a conversation event, or a record
// of a user's own parser. A record describes itself, so that an encoder
// (Zeek JSON or TSV, ECS, EVE, ...) writes any record without knowing its
// Go type: its Schema names its kind and fields, and AppendValues gives
// the values of those fields, in order.
//
// A record handed out by a Driver is the receiver's to keep; it must not
// change afterwards, since several sinks may read it at once.
type Record interface {
	// Schema returns the record's kind and fields. Every record of one
	// kind returns the same *Schema, which encoders may use as a key.
	Schema() *Schema
	// AppendValues appends one Value per field of the schema, in order
	// (the zero Value for a field the record does not have), to vs and
	// returns the extended slice. It must not change the record.
	AppendValues(vs []Value) []Value
}

// Schema describes a kind of record: its name, which is Zeek's log path
// ("conn", "http", "dns", "ssl", or a user's own), and its fields in
// order. A Schema is made once per kind (NewSchema or ConnSchema) and
// never changes; encoders write field names and types from it, so a TSV
// header, an ECS mapping and the JSON keys cannot disagree.
type Schema struct {
	Kind   string
	Fields []Field
}

// Field is one field of a schema: its name as Zeek logs it ("id.orig_h",
// "trans_depth") and its type.
type Field struct {
	Name string
	Type Type
}

// NewSchema returns the schema of records of kind with the fields given.
// It panics when kind is empty, a field has no name or an invalid type,
// or two fields share a name: schemas are made once, by code.
func NewSchema(kind string, fields ...Field) *Schema {
	if kind == "" {
		panic("flowscope.NewSchema: empty kind")
	}
	seen := make(map[string]bool, len(fields))
	for _, f := range fields {
		switch {
		case f.Name == "":
			panic(fmt.Sprintf("flowscope.NewSchema(%q): a field has no name", kind))
		case f.Type.String() == "invalid":
			panic(fmt.Sprintf("flowscope.NewSchema(%q): field %q has an invalid type", kind, f.Name))
		case seen[f.Name]:
			panic(fmt.Sprintf("flowscope.NewSchema(%q): field %q appears twice", kind, f.Name))
		}
		seen[f.Name] = true
	}
	return &Schema{Kind: kind, Fields: fields}
}

// ConnSchema returns the schema of a kind of record made of one flow, in
// the shape of Zeek's protocol logs: ts, uid, id.orig_h, id.orig_p,
// id.resp_h and id.resp_p (the values Conn.AppendValues gives), then the
// fields given.
func ConnSchema(kind string, fields ...Field) *Schema {
	all := make([]Field, 0, len(connFields)+len(fields))
	all = append(append(all, connFields...), fields...)
	return NewSchema(kind, all...)
}

var connFields = []Field{
	{"ts", TypeTime},
	{"uid", TypeString},
	{"id.orig_h", TypeAddr},
	{"id.orig_p", TypePort},
	{"id.resp_h", TypeAddr},
	{"id.resp_p", TypePort},
}

// Index returns the position of the field named name, or -1.
func (s *Schema) Index(name string) int {
	for i, f := range s.Fields {
		if f.Name == name {
			return i
		}
	}
	return -1
}
