package dnsmsg

import (
	"time"

	"github.com/flowscope-go/flowscope"
)

// schema is the dns record's: Zeek's dns.log fields that the parser
// fills, and our malformed.
var schema = flowscope.ConnSchema("dns",
	flowscope.Field{Name: "proto", Type: flowscope.TypeEnum},
	flowscope.Field{Name: "trans_id", Type: flowscope.TypeCount},
	flowscope.Field{Name: "rtt", Type: flowscope.TypeInterval},
	flowscope.Field{Name: "query", Type: flowscope.TypeString},
	flowscope.Field{Name: "qclass", Type: flowscope.TypeCount},
	flowscope.Field{Name: "qclass_name", Type: flowscope.TypeString},
	flowscope.Field{Name: "qtype", Type: flowscope.TypeCount},
	flowscope.Field{Name: "qtype_name", Type: flowscope.TypeString},
	flowscope.Field{Name: "rcode", Type: flowscope.TypeCount},
	flowscope.Field{Name: "rcode_name", Type: flowscope.TypeString},
	flowscope.Field{Name: "AA", Type: flowscope.TypeBool},
	flowscope.Field{Name: "TC", Type: flowscope.TypeBool},
	flowscope.Field{Name: "RD", Type: flowscope.TypeBool},
	flowscope.Field{Name: "RA", Type: flowscope.TypeBool},
	flowscope.Field{Name: "Z", Type: flowscope.TypeCount},
	flowscope.Field{Name: "answers", Type: flowscope.VectorOf(flowscope.TypeString)},
	flowscope.Field{Name: "TTLs", Type: flowscope.VectorOf(flowscope.TypeInterval)},
	flowscope.Field{Name: "rejected", Type: flowscope.TypeBool},
	flowscope.Field{Name: "malformed", Type: flowscope.TypeString},
)

// Schema returns the schema of dns records: ts (the first message's
// time), uid, id.orig_h, id.orig_p, id.resp_h, id.resp_p, proto,
// trans_id, rtt (when both messages were seen), query, qclass,
// qclass_name, qtype, qtype_name, rcode and rcode_name (when answered),
// AA, TC, RD, RA, Z, answers and TTLs (when there were any), rejected,
// and our malformed (what was wrong with a message that did not decode
// whole).
func (tx *Transaction) Schema() *flowscope.Schema { return schema }

// AppendValues appends the values of the dns record's fields to vs.
func (tx *Transaction) AppendValues(vs []flowscope.Value) []flowscope.Value {
	m := tx.first()
	vs = tx.Conn.AppendValues(vs, m.Time)
	vs = append(vs, flowscope.EnumValue(tx.Transport), flowscope.CountValue(uint64(m.ID)))
	if tx.Query != nil && tx.Response != nil {
		vs = append(vs, flowscope.IntervalValue(time.Duration(tx.RTT())))
	} else {
		vs = append(vs, flowscope.Value{})
	}
	q := m.Question
	if q == nil && tx.Response != nil {
		q = tx.Response.Question
	}
	if q != nil {
		vs = append(vs, flowscope.StringValue(q.Name), flowscope.CountValue(uint64(q.Class)), flowscope.StringValue(ClassName(q.Class)),
			flowscope.CountValue(uint64(q.Type)), flowscope.StringValue(TypeName(q.Type)))
	} else {
		vs = append(vs, flowscope.Value{}, flowscope.Value{}, flowscope.Value{}, flowscope.Value{}, flowscope.Value{})
	}
	flags := m
	if r := tx.Response; r != nil {
		vs = append(vs, flowscope.CountValue(uint64(r.Rcode)), flowscope.StringValue(RcodeName(r.Rcode)))
		flags = r
	} else {
		vs = append(vs, flowscope.Value{}, flowscope.Value{})
	}
	vs = append(vs, flowscope.BoolValue(flags.AA), flowscope.BoolValue(flags.TC), flowscope.BoolValue(m.RD),
		flowscope.BoolValue(flags.RA), flowscope.CountValue(uint64(m.Z)))
	if r := tx.Response; r != nil && len(r.Answers) > 0 {
		ttls := make([]flowscope.Value, len(r.TTLs))
		for i, t := range r.TTLs {
			ttls[i] = flowscope.IntervalValue(time.Duration(t) * time.Second)
		}
		vs = append(vs, flowscope.StringsValue(flowscope.VectorOf(flowscope.TypeString), r.Answers),
			flowscope.ListValue(flowscope.VectorOf(flowscope.TypeInterval), ttls))
	} else {
		vs = append(vs, flowscope.Value{}, flowscope.Value{})
	}
	rejected := tx.Response != nil && tx.Response.Rcode != 0 && len(tx.Response.Answers) == 0
	vs = append(vs, flowscope.BoolValue(rejected))
	for _, msg := range []*Message{tx.Query, tx.Response} {
		if msg != nil && msg.Malformed != "" {
			return append(vs, flowscope.StringValue(msg.Malformed))
		}
	}
	return append(vs, flowscope.Value{})
}

// first returns the transaction's first message: its query, or its
// response when there is none.
func (tx *Transaction) first() *Message {
	if tx.Query != nil {
		return tx.Query
	}
	return tx.Response
}

var _ flowscope.Record = (*Transaction)(nil)
