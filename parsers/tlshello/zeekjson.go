package tlshello

import "github.com/flowscope-go/flowscope/internal/zeekjson"

// AppendZeekJSON appends the ssl record as sink.ZeekJSON writes it, by
// hand: the bytes its schema and values give (recordtest checks that),
// without the allocations its lists take.
func (h *Handshake) AppendZeekJSON(b []byte) []byte {
	b = zeekjson.AppendConnID(b, "ssl", h.Time(), h.Conn)
	if s := h.Server; s != nil {
		b = zeekjson.AppendField(b, "version", VersionName(h.Version()))
		b = zeekjson.AppendField(b, "cipher", CipherName(s.Cipher))
		if s.KeyShare != 0 {
			b = zeekjson.AppendField(b, "curve", GroupName(s.KeyShare))
		}
	}
	if ch := h.Client; ch != nil && ch.SNI != "" {
		b = zeekjson.AppendField(b, "server_name", ch.SNI)
	}
	b = zeekjson.AppendBool(b, "resumed", h.Resumed)
	if s := h.Server; s != nil && s.ALPN != "" {
		b = zeekjson.AppendField(b, "next_protocol", s.ALPN)
	}
	b = zeekjson.AppendBool(b, "established", h.Established)
	if h.History != "" {
		b = zeekjson.AppendField(b, "ssl_history", h.History)
	}
	if len(h.Certs) > 0 {
		b = append(b, `,"cert_chain_fps":[`...)
		for i, cert := range h.Certs {
			if i > 0 {
				b = append(b, ',')
			}
			b = zeekjson.AppendString(b, cert.SHA256)
		}
		b = append(b, ']')
		if h.Certs[0].Err == "" {
			b = zeekjson.AppendField(b, "subject", h.Certs[0].Subject)
			b = zeekjson.AppendField(b, "issuer", h.Certs[0].Issuer)
		}
	}
	if ch := h.Client; ch != nil {
		if len(ch.ALPN) > 0 {
			b = zeekjson.AppendStrings(b, "client_alpn", ch.ALPN)
		}
		b = append(b, `,"client_versions":[`...)
		first := true
		versions := ch.Versions
		if len(versions) == 0 {
			versions = []uint16{ch.Version}
		}
		for _, v := range versions {
			if IsGREASE(v) {
				continue
			}
			if !first {
				b = append(b, ',')
			}
			first = false
			b = zeekjson.AppendString(b, VersionName(v))
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
	if len(h.Truncated) > 0 {
		b = zeekjson.AppendStrings(b, "truncated", h.Truncated)
	}
	return append(b, '}')
}
