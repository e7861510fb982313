package sink

import (
	"strconv"

	"github.com/flowscope-go/flowscope/parsers/dnsmsg"
	"github.com/flowscope-go/flowscope/parsers/tlshello"
)

// AppendDNS appends a DNS transaction as one JSON object in Zeek's dns.log
// schema: _path ("dns"), ts, uid, id.*, proto, trans_id, rtt (seconds,
// when both messages were seen), query, qclass, qclass_name, qtype,
// qtype_name, rcode and rcode_name (when answered), AA, TC, RD, RA, Z,
// answers and TTLs (when there were any), rejected, and our malformed
// (what was wrong with a message that did not decode whole).
func AppendDNS(b []byte, c *Conn, tx *dnsmsg.Transaction) []byte {
	m := tx.Query
	if m == nil {
		m = tx.Response
	}
	b = appendConnID(b, "dns", m.Time, c)
	b = appendField(b, "proto", tx.Transport)
	b = append(b, `,"trans_id":`...)
	b = strconv.AppendUint(b, uint64(m.ID), 10)
	if tx.Query != nil && tx.Response != nil {
		b = append(b, `,"rtt":`...)
		b = appendSeconds(b, tx.RTT())
	}
	q := m.Question
	if q == nil && tx.Response != nil {
		q = tx.Response.Question
	}
	if q != nil {
		b = appendField(b, "query", q.Name)
		b = append(b, `,"qclass":`...)
		b = strconv.AppendUint(b, uint64(q.Class), 10)
		b = appendField(b, "qclass_name", dnsmsg.ClassName(q.Class))
		b = append(b, `,"qtype":`...)
		b = strconv.AppendUint(b, uint64(q.Type), 10)
		b = appendField(b, "qtype_name", dnsmsg.TypeName(q.Type))
	}
	flags := m
	if r := tx.Response; r != nil {
		b = append(b, `,"rcode":`...)
		b = strconv.AppendInt(b, int64(r.Rcode), 10)
		b = appendField(b, "rcode_name", dnsmsg.RcodeName(r.Rcode))
		flags = r
	}
	b = appendBool(b, "AA", flags.AA)
	b = appendBool(b, "TC", flags.TC)
	b = appendBool(b, "RD", m.RD)
	b = appendBool(b, "RA", flags.RA)
	b = append(b, `,"Z":`...)
	b = strconv.AppendUint(b, uint64(m.Z), 10)
	if r := tx.Response; r != nil && len(r.Answers) > 0 {
		b = append(b, `,"answers":[`...)
		for i, a := range r.Answers {
			if i > 0 {
				b = append(b, ',')
			}
			b = AppendJSONString(b, a)
		}
		b = append(b, `],"TTLs":[`...)
		for i, t := range r.TTLs {
			if i > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendUint(b, uint64(t), 10)
			b = append(b, ".0"...)
		}
		b = append(b, ']')
	}
	rejected := tx.Response != nil && tx.Response.Rcode != 0 && len(tx.Response.Answers) == 0
	b = appendBool(b, "rejected", rejected)
	for _, msg := range []*dnsmsg.Message{tx.Query, tx.Response} {
		if msg != nil && msg.Malformed != "" {
			b = appendField(b, "malformed", msg.Malformed)
			break
		}
	}
	return append(b, '}')
}

// AppendSSL appends a TLS handshake as one JSON object in Zeek's ssl.log
// schema: _path ("ssl"), ts, uid, id.*, version, cipher (IANA name),
// curve (TLS 1.3 key share), server_name, resumed, next_protocol (the
// server's ALPN choice), established, ssl_history, cert_chain_fps,
// subject and issuer (of the first certificate), and our client_alpn,
// client_versions (Zeek names, GREASE left out), ja3, ja3s and ja4.
func AppendSSL(b []byte, c *Conn, h *tlshello.Handshake) []byte {
	ts := int64(0)
	if h.Client != nil {
		ts = h.Client.Time
	} else if h.Server != nil {
		ts = h.Server.Time
	}
	b = appendConnID(b, "ssl", ts, c)
	if s := h.Server; s != nil {
		b = appendField(b, "version", tlshello.VersionName(h.Version()))
		b = appendField(b, "cipher", tlshello.CipherName(s.Cipher))
		if s.KeyShare != 0 {
			b = appendField(b, "curve", tlshello.GroupName(s.KeyShare))
		}
	}
	if ch := h.Client; ch != nil && ch.SNI != "" {
		b = appendField(b, "server_name", ch.SNI)
	}
	b = appendBool(b, "resumed", h.Resumed)
	if s := h.Server; s != nil && s.ALPN != "" {
		b = appendField(b, "next_protocol", s.ALPN)
	}
	b = appendBool(b, "established", h.Established)
	if h.History != "" {
		b = appendField(b, "ssl_history", h.History)
	}
	if len(h.Certs) > 0 {
		b = append(b, `,"cert_chain_fps":[`...)
		for i, cert := range h.Certs {
			if i > 0 {
				b = append(b, ',')
			}
			b = AppendJSONString(b, cert.SHA256)
		}
		b = append(b, ']')
		if h.Certs[0].Err == "" {
			b = appendField(b, "subject", h.Certs[0].Subject)
			b = appendField(b, "issuer", h.Certs[0].Issuer)
		}
	}
	if ch := h.Client; ch != nil {
		if len(ch.ALPN) > 0 {
			b = append(b, `,"client_alpn":[`...)
			for i, a := range ch.ALPN {
				if i > 0 {
					b = append(b, ',')
				}
				b = AppendJSONString(b, a)
			}
			b = append(b, ']')
		}
		b = append(b, `,"client_versions":[`...)
		first := true
		versions := ch.Versions
		if len(versions) == 0 {
			versions = []uint16{ch.Version}
		}
		for _, v := range versions {
			if tlshello.IsGREASE(v) {
				continue
			}
			if !first {
				b = append(b, ',')
			}
			first = false
			b = AppendJSONString(b, tlshello.VersionName(v))
		}
		b = append(b, ']')
		// Fingerprints are hex digits and letters: nothing to escape.
		b = append(b, `,"ja3":"`...)
		b = ch.AppendJA3(b)
		b = append(b, `","ja4":"`...)
		b = ch.AppendJA4(b)
		b = append(b, '"')
	}
	if s := h.Server; s != nil {
		b = append(b, `,"ja3s":"`...)
		b = s.AppendJA3S(b)
		b = append(b, '"')
	}
	return append(b, '}')
}

func appendBool(b []byte, name string, v bool) []byte {
	b = append(b, `,"`...)
	b = append(b, name...)
	b = append(b, `":`...)
	return strconv.AppendBool(b, v)
}
