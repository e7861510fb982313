package http1

import "github.com/flowscope-go/flowscope"

// schema is the http record's: Zeek's http.log fields that the parser
// fills, and our flags.
var schema = flowscope.ConnSchema("http",
	flowscope.Field{Name: "trans_depth", Type: flowscope.TypeCount},
	flowscope.Field{Name: "method", Type: flowscope.TypeString},
	flowscope.Field{Name: "host", Type: flowscope.TypeString},
	flowscope.Field{Name: "uri", Type: flowscope.TypeString},
	flowscope.Field{Name: "referrer", Type: flowscope.TypeString},
	flowscope.Field{Name: "version", Type: flowscope.TypeString},
	flowscope.Field{Name: "user_agent", Type: flowscope.TypeString},
	flowscope.Field{Name: "request_body_len", Type: flowscope.TypeCount},
	flowscope.Field{Name: "response_body_len", Type: flowscope.TypeCount},
	flowscope.Field{Name: "status_code", Type: flowscope.TypeCount},
	flowscope.Field{Name: "status_msg", Type: flowscope.TypeString},
	flowscope.Field{Name: "info_code", Type: flowscope.TypeCount},
	flowscope.Field{Name: "info_msg", Type: flowscope.TypeString},
	flowscope.Field{Name: "flags", Type: flowscope.SetOf(flowscope.TypeString)},
)

// Schema returns the schema of http records: ts (the first message's
// start), uid, id.orig_h, id.orig_p, id.resp_h, id.resp_p, trans_depth,
// method, host, uri, referrer, version (the request's, or the
// response's when there is no request), user_agent, request_body_len,
// response_body_len (after de-chunking), status_code, status_msg,
// info_code and info_msg (the last interim 1xx response), and our flags
// (incomplete, tunnel, smuggling_cl_te, smuggling_cl_cl, obs_fold,
// bad_framing) when any is set. Absent values are unset.
func (tx *Transaction) Schema() *flowscope.Schema { return schema }

// AppendValues appends the values of the http record's fields to vs.
func (tx *Transaction) AppendValues(vs []flowscope.Value) []flowscope.Value {
	vs = tx.Conn.AppendValues(vs, tx.Time())
	vs = append(vs, flowscope.CountValue(uint64(tx.Depth)))
	header := func(m *Message, name string) flowscope.Value {
		if v, ok := m.Header(name); ok {
			return flowscope.StringValue(v)
		}
		return flowscope.Value{}
	}
	nonEmpty := func(s string) flowscope.Value {
		if s == "" {
			return flowscope.Value{}
		}
		return flowscope.StringValue(s)
	}
	if q := tx.Request; q != nil {
		vs = append(vs, flowscope.StringValue(q.Method), header(&q.Message, "Host"), flowscope.StringValue(q.Target),
			header(&q.Message, "Referer"), nonEmpty(q.Version), header(&q.Message, "User-Agent"),
			flowscope.CountValue(q.BodyLen))
	} else {
		var version flowscope.Value
		if p := tx.Response; p != nil {
			version = nonEmpty(p.Version)
		}
		vs = append(vs, flowscope.Value{}, flowscope.Value{}, flowscope.Value{}, flowscope.Value{}, version, flowscope.Value{}, flowscope.Value{})
	}
	if p := tx.Response; p != nil {
		vs = append(vs, flowscope.CountValue(p.BodyLen), flowscope.CountValue(uint64(p.Status)), flowscope.StringValue(p.Reason))
	} else {
		vs = append(vs, flowscope.Value{}, flowscope.Value{}, flowscope.Value{})
	}
	if n := len(tx.Interim); n > 0 {
		vs = append(vs, flowscope.CountValue(uint64(tx.Interim[n-1].Status)), flowscope.StringValue(tx.Interim[n-1].Reason))
	} else {
		vs = append(vs, flowscope.Value{}, flowscope.Value{})
	}
	if tx.Flags != 0 {
		return append(vs, flowscope.StringsValue(flowscope.SetOf(flowscope.TypeString), tx.Flags.Names()))
	}
	return append(vs, flowscope.Value{})
}

// Time returns the transaction's time, its record's ts: the start of its
// request, or of its first response when there is no request.
func (tx *Transaction) Time() int64 {
	switch {
	case tx.Request != nil:
		return tx.Request.Start
	case len(tx.Interim) > 0:
		return tx.Interim[0].Start
	case tx.Response != nil:
		return tx.Response.Start
	}
	return 0
}

var _ flowscope.Record = (*Transaction)(nil)
