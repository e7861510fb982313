package http1

import (
	"strconv"

	"github.com/flowscope-go/flowscope/internal/zeekjson"
)

// AppendZeekJSON appends the http record as sink.ZeekJSON writes it, by
// hand: the bytes its schema and values give (recordtest checks that),
// in half the time.
func (tx *Transaction) AppendZeekJSON(b []byte) []byte {
	b = zeekjson.AppendConnID(b, "http", tx.Time(), tx.Conn)
	b = append(b, `,"trans_depth":`...)
	b = strconv.AppendInt(b, int64(tx.Depth), 10)
	if q := tx.Request; q != nil {
		b = zeekjson.AppendField(b, "method", q.Method)
		if v, ok := q.Header("Host"); ok {
			b = zeekjson.AppendField(b, "host", v)
		}
		b = zeekjson.AppendField(b, "uri", q.Target)
		if v, ok := q.Header("Referer"); ok {
			b = zeekjson.AppendField(b, "referrer", v)
		}
		if q.Version != "" {
			b = zeekjson.AppendField(b, "version", q.Version)
		}
		if v, ok := q.Header("User-Agent"); ok {
			b = zeekjson.AppendField(b, "user_agent", v)
		}
		b = append(b, `,"request_body_len":`...)
		b = strconv.AppendUint(b, q.BodyLen, 10)
	}
	if p := tx.Response; p != nil {
		if tx.Request == nil && p.Version != "" {
			b = zeekjson.AppendField(b, "version", p.Version)
		}
		b = append(b, `,"response_body_len":`...)
		b = strconv.AppendUint(b, p.BodyLen, 10)
		b = append(b, `,"status_code":`...)
		b = strconv.AppendInt(b, int64(p.Status), 10)
		b = zeekjson.AppendField(b, "status_msg", p.Reason)
	}
	if n := len(tx.Interim); n > 0 {
		b = append(b, `,"info_code":`...)
		b = strconv.AppendInt(b, int64(tx.Interim[n-1].Status), 10)
		b = zeekjson.AppendField(b, "info_msg", tx.Interim[n-1].Reason)
	}
	if names := tx.Flags.Names(); len(names) > 0 {
		b = append(b, `,"flags":[`...)
		for i, n := range names {
			if i > 0 {
				b = append(b, ',')
			}
			b = zeekjson.AppendString(b, n)
		}
		b = append(b, ']')
	}
	return append(b, '}')
}
