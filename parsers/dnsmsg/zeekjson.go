package dnsmsg

import (
	"strconv"

	"github.com/flowscope-go/flowscope/internal/zeekjson"
)

// AppendZeekJSON appends the dns record as sink.ZeekJSON writes it, by
// hand: the bytes its schema and values give (recordtest checks that),
// without the allocations its lists take.
func (tx *Transaction) AppendZeekJSON(b []byte) []byte {
	m := tx.first()
	b = zeekjson.AppendConnID(b, "dns", m.Time, tx.Conn)
	b = zeekjson.AppendField(b, "proto", tx.Transport)
	b = append(b, `,"trans_id":`...)
	b = strconv.AppendUint(b, uint64(m.ID), 10)
	if tx.Query != nil && tx.Response != nil {
		b = append(b, `,"rtt":`...)
		b = zeekjson.AppendSeconds(b, tx.RTT())
	}
	q := m.Question
	if q == nil && tx.Response != nil {
		q = tx.Response.Question
	}
	if q != nil {
		b = zeekjson.AppendField(b, "query", q.Name)
		b = append(b, `,"qclass":`...)
		b = strconv.AppendUint(b, uint64(q.Class), 10)
		b = zeekjson.AppendField(b, "qclass_name", ClassName(q.Class))
		b = append(b, `,"qtype":`...)
		b = strconv.AppendUint(b, uint64(q.Type), 10)
		b = zeekjson.AppendField(b, "qtype_name", TypeName(q.Type))
	}
	flags := m
	if r := tx.Response; r != nil {
		b = append(b, `,"rcode":`...)
		b = strconv.AppendInt(b, int64(r.Rcode), 10)
		b = zeekjson.AppendField(b, "rcode_name", RcodeName(r.Rcode))
		flags = r
	}
	b = zeekjson.AppendBool(b, "AA", flags.AA)
	b = zeekjson.AppendBool(b, "TC", flags.TC)
	b = zeekjson.AppendBool(b, "RD", m.RD)
	b = zeekjson.AppendBool(b, "RA", flags.RA)
	b = append(b, `,"Z":`...)
	b = strconv.AppendUint(b, uint64(m.Z), 10)
	if r := tx.Response; r != nil && len(r.Answers) > 0 {
		b = append(b, `,"answers":[`...)
		for i, a := range r.Answers {
			if i > 0 {
				b = append(b, ',')
			}
			b = zeekjson.AppendString(b, a)
		}
		b = append(b, `],"TTLs":[`...)
		for i, t := range r.TTLs {
			if i > 0 {
				b = append(b, ',')
			}
			b = zeekjson.AppendSeconds(b, int64(t)*1e9)
		}
		b = append(b, ']')
	}
	rejected := tx.Response != nil && tx.Response.Rcode != 0 && len(tx.Response.Answers) == 0
	b = zeekjson.AppendBool(b, "rejected", rejected)
	for _, msg := range [2]*Message{tx.Query, tx.Response} {
		if msg != nil && msg.Malformed != "" {
			b = zeekjson.AppendField(b, "malformed", msg.Malformed)
			break
		}
	}
	return append(b, '}')
}
