package tlshello

import "github.com/flowscope-go/flowscope"

// schema is the ssl record's: Zeek's ssl.log fields that the parser
// fills, and our client_alpn, client_versions, ja3, ja4 and ja3s.
var schema = flowscope.ConnSchema("ssl",
	flowscope.Field{Name: "version", Type: flowscope.TypeString},
	flowscope.Field{Name: "cipher", Type: flowscope.TypeString},
	flowscope.Field{Name: "curve", Type: flowscope.TypeString},
	flowscope.Field{Name: "server_name", Type: flowscope.TypeString},
	flowscope.Field{Name: "resumed", Type: flowscope.TypeBool},
	flowscope.Field{Name: "next_protocol", Type: flowscope.TypeString},
	flowscope.Field{Name: "established", Type: flowscope.TypeBool},
	flowscope.Field{Name: "ssl_history", Type: flowscope.TypeString},
	flowscope.Field{Name: "cert_chain_fps", Type: flowscope.VectorOf(flowscope.TypeString)},
	flowscope.Field{Name: "subject", Type: flowscope.TypeString},
	flowscope.Field{Name: "issuer", Type: flowscope.TypeString},
	flowscope.Field{Name: "client_alpn", Type: flowscope.VectorOf(flowscope.TypeString)},
	flowscope.Field{Name: "client_versions", Type: flowscope.VectorOf(flowscope.TypeString)},
	flowscope.Field{Name: "ja3", Type: flowscope.TypeString},
	flowscope.Field{Name: "ja4", Type: flowscope.TypeString},
	flowscope.Field{Name: "ja3s", Type: flowscope.TypeString},
	flowscope.Field{Name: "truncated", Type: flowscope.SetOf(flowscope.TypeString)},
)

// Schema returns the schema of ssl records: ts (the ClientHello's time,
// or the ServerHello's), uid, id.orig_h, id.orig_p, id.resp_h, id.resp_p,
// version, cipher (IANA name), curve (TLS 1.3 key share), server_name,
// resumed, next_protocol (the server's ALPN choice), established,
// ssl_history, cert_chain_fps, subject and issuer (of the first
// certificate), and our client_alpn, client_versions (Zeek's names,
// GREASE left out), ja3, ja4, ja3s and truncated (what the handshake
// kept only part of, past the parser's bounds: see Handshake.Truncated).
func (h *Handshake) Schema() *flowscope.Schema { return schema }

// AppendValues appends the values of the ssl record's fields to vs. The
// fingerprints are given as text appenders: they are hashed as they are
// written.
func (h *Handshake) AppendValues(vs []flowscope.Value) []flowscope.Value {
	vs = h.Conn.AppendValues(vs, h.Time())
	str := func(s string) flowscope.Value {
		if s == "" {
			return flowscope.Value{}
		}
		return flowscope.StringValue(s)
	}
	if s := h.Server; s != nil {
		curve := flowscope.Value{}
		if s.KeyShare != 0 {
			curve = flowscope.StringValue(GroupName(s.KeyShare))
		}
		vs = append(vs, flowscope.StringValue(VersionName(h.Version())), flowscope.StringValue(CipherName(s.Cipher)), curve)
	} else {
		vs = append(vs, flowscope.Value{}, flowscope.Value{}, flowscope.Value{})
	}
	if ch := h.Client; ch != nil {
		vs = append(vs, str(ch.SNI))
	} else {
		vs = append(vs, flowscope.Value{})
	}
	vs = append(vs, flowscope.BoolValue(h.Resumed))
	if s := h.Server; s != nil {
		vs = append(vs, str(s.ALPN))
	} else {
		vs = append(vs, flowscope.Value{})
	}
	vs = append(vs, flowscope.BoolValue(h.Established), str(h.History))
	if len(h.Certs) > 0 {
		fps := make([]string, len(h.Certs))
		for i := range h.Certs {
			fps[i] = h.Certs[i].SHA256
		}
		vs = append(vs, flowscope.StringsValue(flowscope.VectorOf(flowscope.TypeString), fps))
		if h.Certs[0].Err == "" {
			vs = append(vs, flowscope.StringValue(h.Certs[0].Subject), flowscope.StringValue(h.Certs[0].Issuer))
		} else {
			vs = append(vs, flowscope.Value{}, flowscope.Value{})
		}
	} else {
		vs = append(vs, flowscope.Value{}, flowscope.Value{}, flowscope.Value{})
	}
	if ch := h.Client; ch != nil {
		if len(ch.ALPN) > 0 {
			vs = append(vs, flowscope.StringsValue(flowscope.VectorOf(flowscope.TypeString), ch.ALPN))
		} else {
			vs = append(vs, flowscope.Value{})
		}
		versions := ch.Versions
		if len(versions) == 0 {
			versions = []uint16{ch.Version}
		}
		names := make([]string, 0, len(versions))
		for _, v := range versions {
			if !IsGREASE(v) {
				names = append(names, VersionName(v))
			}
		}
		vs = append(vs, flowscope.StringsValue(flowscope.VectorOf(flowscope.TypeString), names),
			flowscope.TextValue((*ja3Text)(ch)), flowscope.TextValue((*ja4Text)(ch)))
	} else {
		vs = append(vs, flowscope.Value{}, flowscope.Value{}, flowscope.Value{}, flowscope.Value{})
	}
	if s := h.Server; s != nil {
		vs = append(vs, flowscope.TextValue((*ja3sText)(s)))
	} else {
		vs = append(vs, flowscope.Value{})
	}
	if len(h.Truncated) > 0 {
		return append(vs, flowscope.StringsValue(flowscope.SetOf(flowscope.TypeString), h.Truncated))
	}
	return append(vs, flowscope.Value{})
}

// Time returns the handshake's time, its record's ts: the ClientHello's,
// or the ServerHello's when there is no ClientHello.
func (h *Handshake) Time() int64 {
	switch {
	case h.Client != nil:
		return h.Client.Time
	case h.Server != nil:
		return h.Server.Time
	}
	return 0
}

// Text appenders of the fingerprints.
type (
	ja3Text  ClientHello
	ja4Text  ClientHello
	ja3sText ServerHello
)

func (c *ja3Text) AppendText(b []byte) ([]byte, error) { return (*ClientHello)(c).AppendJA3(b), nil }
func (c *ja4Text) AppendText(b []byte) ([]byte, error) { return (*ClientHello)(c).AppendJA4(b), nil }
func (s *ja3sText) AppendText(b []byte) ([]byte, error) {
	return (*ServerHello)(s).AppendJA3S(b), nil
}

var _ flowscope.Record = (*Handshake)(nil)
