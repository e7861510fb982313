package sink

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"unicode/utf8"

	"github.com/flowscope-go/flowscope"
	"github.com/flowscope-go/flowscope/parsers/http1"
)

// Conn identifies a connection in protocol records.
type Conn struct {
	UID        string
	Orig, Resp netip.AddrPort
}

// ConnOf returns the identity of the connection whose record (as of its
// first packet, say) is rec. Compute it once per connection: the uid is a
// hash.
func ConnOf(rec *flowscope.FlowRecord) *Conn {
	return &Conn{
		UID:  rec.UID(),
		Orig: netip.AddrPortFrom(rec.Orig.Addr.Netip(), rec.Orig.Port),
		Resp: netip.AddrPortFrom(rec.Resp.Addr.Netip(), rec.Resp.Port),
	}
}

// HTTPRecord is one HTTP transaction with the connection it was seen on.
type HTTPRecord struct {
	Conn *Conn
	Tx   *http1.Transaction
}

// ZeekHTTP writes HTTP transactions as JSON Lines with Zeek's http.log
// field names: _path ("http"), ts, uid, id.orig_h, id.orig_p, id.resp_h,
// id.resp_p, trans_depth, method, host, uri, referrer, version,
// user_agent, request_body_len, response_body_len, status_code,
// status_msg, info_code and info_msg (the last interim 1xx response), and
// our flags (incomplete, tunnel, smuggling_cl_te, smuggling_cl_cl,
// obs_fold, bad_framing) when any is set. Absent values are left out.
type ZeekHTTP struct {
	w   *bufio.Writer
	buf []byte
}

// NewZeekHTTP returns a sink writing to w through a buffer; see NewZeek
// for sharing one *bufio.Writer between sinks.
func NewZeekHTTP(w io.Writer) *ZeekHTTP {
	return &ZeekHTTP{w: buffered(w)}
}

// Write encodes recs.
func (z *ZeekHTTP) Write(_ context.Context, recs []HTTPRecord) error {
	for i := range recs {
		z.buf = AppendHTTP(z.buf[:0], &recs[i])
		z.buf = append(z.buf, '\n')
		if _, err := z.w.Write(z.buf); err != nil {
			return fmt.Errorf("write http record: %w", err)
		}
	}
	return nil
}

// Flush writes buffered records out.
func (z *ZeekHTTP) Flush() error {
	if err := z.w.Flush(); err != nil {
		return fmt.Errorf("flush http records: %w", err)
	}
	return nil
}

var _ Sink[HTTPRecord] = (*ZeekHTTP)(nil)

// AppendHTTP appends r as one JSON object (no newline) in Zeek's http.log
// schema.
func AppendHTTP(b []byte, r *HTTPRecord) []byte {
	tx := r.Tx
	ts := int64(0)
	switch {
	case tx.Request != nil:
		ts = tx.Request.Start
	case len(tx.Interim) > 0:
		ts = tx.Interim[0].Start
	case tx.Response != nil:
		ts = tx.Response.Start
	}
	b = append(b, `{"_path":"http","ts":`...)
	b = appendSeconds(b, ts)
	b = append(b, `,"uid":`...)
	b = AppendJSONString(b, r.Conn.UID)
	b = append(b, `,"id.orig_h":"`...)
	b = r.Conn.Orig.Addr().AppendTo(b)
	b = append(b, `","id.orig_p":`...)
	b = strconv.AppendUint(b, uint64(r.Conn.Orig.Port()), 10)
	b = append(b, `,"id.resp_h":"`...)
	b = r.Conn.Resp.Addr().AppendTo(b)
	b = append(b, `","id.resp_p":`...)
	b = strconv.AppendUint(b, uint64(r.Conn.Resp.Port()), 10)
	b = append(b, `,"trans_depth":`...)
	b = strconv.AppendInt(b, int64(tx.Depth), 10)
	if q := tx.Request; q != nil {
		b = appendField(b, "method", q.Method)
		if v, ok := q.Header("Host"); ok {
			b = appendField(b, "host", v)
		}
		b = appendField(b, "uri", q.Target)
		if v, ok := q.Header("Referer"); ok {
			b = appendField(b, "referrer", v)
		}
		if q.Version != "" {
			b = appendField(b, "version", q.Version)
		}
		if v, ok := q.Header("User-Agent"); ok {
			b = appendField(b, "user_agent", v)
		}
		b = append(b, `,"request_body_len":`...)
		b = strconv.AppendUint(b, q.BodyLen, 10)
	}
	if p := tx.Response; p != nil {
		if tx.Request == nil && p.Version != "" {
			b = appendField(b, "version", p.Version)
		}
		b = append(b, `,"response_body_len":`...)
		b = strconv.AppendUint(b, p.BodyLen, 10)
		b = append(b, `,"status_code":`...)
		b = strconv.AppendInt(b, int64(p.Status), 10)
		b = appendField(b, "status_msg", p.Reason)
	}
	if n := len(tx.Interim); n > 0 {
		b = append(b, `,"info_code":`...)
		b = strconv.AppendInt(b, int64(tx.Interim[n-1].Status), 10)
		b = appendField(b, "info_msg", tx.Interim[n-1].Reason)
	}
	if names := tx.Flags.Names(); len(names) > 0 {
		b = append(b, `,"flags":[`...)
		for i, n := range names {
			if i > 0 {
				b = append(b, ',')
			}
			b = AppendJSONString(b, n)
		}
		b = append(b, ']')
	}
	return append(b, '}')
}

func appendField(b []byte, name, value string) []byte {
	b = append(b, `,"`...)
	b = append(b, name...)
	b = append(b, `":`...)
	return AppendJSONString(b, value)
}

const hexDigits = "0123456789abcdef"

// AppendJSONString appends s as a JSON string. Valid UTF-8 is kept;
// control characters and bytes that are not valid UTF-8 are escaped as
// \u00XX, so any captured bytes give valid JSON.
func AppendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c < 0x20 || c == 0x7f:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		} else {
			b = append(b, s[i:i+n]...)
		}
		i += n
	}
	return append(b, '"')
}
