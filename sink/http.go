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
	"github.com/flowscope-go/flowscope/parsers/dnsmsg"
	"github.com/flowscope-go/flowscope/parsers/http1"
	"github.com/flowscope-go/flowscope/parsers/tlshello"
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

// Record is one protocol record with the connection it was seen on:
// exactly one of HTTP, DNS and TLS is set.
type Record struct {
	Conn *Conn
	HTTP *http1.Transaction
	DNS  *dnsmsg.Transaction
	TLS  *tlshello.Handshake
}

// ZeekRecords writes protocol records as JSON Lines with Zeek's field
// names: http (see AppendHTTP), dns (AppendDNS) and ssl (AppendSSL).
type ZeekRecords struct {
	w   *bufio.Writer
	buf []byte
}

// NewZeekRecords returns a sink writing to w through a buffer; see NewZeek
// for sharing one *bufio.Writer between sinks.
func NewZeekRecords(w io.Writer) *ZeekRecords {
	return &ZeekRecords{w: buffered(w)}
}

// Write encodes recs.
func (z *ZeekRecords) Write(_ context.Context, recs []Record) error {
	for i := range recs {
		r := &recs[i]
		switch {
		case r.HTTP != nil:
			z.buf = AppendHTTP(z.buf[:0], r.Conn, r.HTTP)
		case r.DNS != nil:
			z.buf = AppendDNS(z.buf[:0], r.Conn, r.DNS)
		case r.TLS != nil:
			z.buf = AppendSSL(z.buf[:0], r.Conn, r.TLS)
		default:
			continue
		}
		z.buf = append(z.buf, '\n')
		if _, err := z.w.Write(z.buf); err != nil {
			return fmt.Errorf("write protocol record: %w", err)
		}
	}
	return nil
}

// Flush writes buffered records out.
func (z *ZeekRecords) Flush() error {
	if err := z.w.Flush(); err != nil {
		return fmt.Errorf("flush protocol records: %w", err)
	}
	return nil
}

var _ Sink[Record] = (*ZeekRecords)(nil)

// appendConnID appends the fields every protocol record starts with.
func appendConnID(b []byte, path string, ts int64, c *Conn) []byte {
	b = append(b, `{"_path":"`...)
	b = append(b, path...)
	b = append(b, `","ts":`...)
	b = appendSeconds(b, ts)
	b = append(b, `,"uid":`...)
	b = AppendJSONString(b, c.UID)
	b = append(b, `,"id.orig_h":"`...)
	b = c.Orig.Addr().AppendTo(b)
	b = append(b, `","id.orig_p":`...)
	b = strconv.AppendUint(b, uint64(c.Orig.Port()), 10)
	b = append(b, `,"id.resp_h":"`...)
	b = c.Resp.Addr().AppendTo(b)
	b = append(b, `","id.resp_p":`...)
	return strconv.AppendUint(b, uint64(c.Resp.Port()), 10)
}

// AppendHTTP appends an HTTP transaction as one JSON object (no newline)
// in Zeek's http.log schema: _path ("http"), ts, uid, id.orig_h,
// id.orig_p, id.resp_h, id.resp_p, trans_depth, method, host, uri,
// referrer, version, user_agent, request_body_len, response_body_len,
// status_code, status_msg, info_code and info_msg (the last interim 1xx
// response), and our flags (incomplete, tunnel, smuggling_cl_te,
// smuggling_cl_cl, obs_fold, bad_framing) when any is set. Absent values
// are left out.
func AppendHTTP(b []byte, c *Conn, tx *http1.Transaction) []byte {
	ts := int64(0)
	switch {
	case tx.Request != nil:
		ts = tx.Request.Start
	case len(tx.Interim) > 0:
		ts = tx.Interim[0].Start
	case tx.Response != nil:
		ts = tx.Response.Start
	}
	b = appendConnID(b, "http", ts, c)
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
		} else if r, n := utf8.DecodeRuneInString(s[i:]); r == utf8.RuneError && n == 1 {
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
func load64(s string) uint64 {
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
