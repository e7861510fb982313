// Package tlshello parses TLS handshakes from the reassembled streams of a
// TCP connection: the ClientHello, the ServerHello (a HelloRetryRequest
// included), certificates (TLS 1.2 and earlier) and alerts, with the JA3,
// JA3S and JA4 fingerprints. It reads TLS records split across segments
// and handshake messages split across records, and stops reading a side,
// cheaply, once it turns to encrypted data.
//
// Parser{} is a flowscope.SessionFactory[*Handshake]. A connection that
// does not start with a TLS handshake record is given up on at once.
package tlshello

import (
	"encoding/binary"
	"encoding/hex"

	"github.com/flowscope-go/flowscope"
)

// Parser makes TLS handshake parsers. The zero Parser is ready to use.
type Parser struct{}

// NewSession returns a parser for one connection.
func (Parser) NewSession(c *flowscope.Conn) flowscope.SessionParser[*Handshake] {
	return &session{conn: c}
}

var _ flowscope.SessionFactory[*Handshake] = Parser{}

// ClientHello holds what a ClientHello says.
type ClientHello struct {
	Version      uint16 // legacy_version
	SessionID    []byte
	Ciphers      []uint16 // as sent, GREASE included
	Extensions   []uint16 // types, as sent
	SNI          string
	ALPN         []string
	Versions     []uint16 // supported_versions, as sent
	Groups       []uint16 // supported_groups
	PointFormats []uint8
	SigAlgs      []uint16
	PSK          bool // pre_shared_key offered
	ECH          bool // encrypted_client_hello present
	Time         int64
}

// ServerHello holds what a ServerHello (or HelloRetryRequest) says.
type ServerHello struct {
	Version    uint16 // legacy_version
	Selected   uint16 // supported_versions, 0 when absent
	SessionID  []byte
	Cipher     uint16
	Extensions []uint16
	ALPN       string
	KeyShare   uint16 // the group of the key share (TLS 1.3)
	HRR        bool   // a HelloRetryRequest
	Time       int64
}

// Certificate is one certificate of the server's chain.
type Certificate struct {
	SHA256          string // hex fingerprint of the DER bytes
	Subject, Issuer string
	NotBefore       int64
	NotAfter        int64
	SANs            []string
	// Err says why the certificate could not be parsed; the fingerprint
	// is still there.
	Err string
}

// Handshake is one handshake attempt on a connection: a ClientHello and
// what the server answered. A second ClientHello (after a
// HelloRetryRequest, or a renegotiation seen in the clear) starts a new
// Handshake.
type Handshake struct {
	// Conn is the connection the handshake was seen on.
	Conn   *flowscope.Conn
	Client *ClientHello
	Server *ServerHello
	Certs  []Certificate
	// Alerts are the alerts seen in the clear, as level<<8|description.
	Alerts []uint16
	// History is Zeek's ssl_history letters, upper case for what the
	// client sent and lower case for the server: C client hello, s server
	// hello, h hello retry request, x certificate, k server key exchange,
	// d server hello done, G client key exchange, I/i change cipher spec,
	// A/a alerts.
	History string
	// Established is set once both sides sent encrypted application data
	// (or change cipher spec on TLS 1.2 and earlier).
	Established bool
	// Resumed is set when the server took up the session the client
	// offered (same session id, or a pre-shared key on TLS 1.3).
	Resumed bool
	// Truncated names what the handshake kept only part of, past the
	// parser's bounds: TruncHistory (MaxHistory letters), TruncAlerts
	// (MaxAlerts), TruncCerts (MaxCerts), TruncCertText (MaxCertText).
	Truncated []string
}

// Version returns the negotiated version: the server's supported_versions
// choice when present, else its legacy version.
func (h *Handshake) Version() uint16 {
	if h.Server == nil {
		return 0
	}
	if h.Server.Selected != 0 {
		return h.Server.Selected
	}
	return h.Server.Version
}

// IsGREASE reports whether v is a GREASE value (RFC 8701): 0x?a?a with
// both bytes equal.
func IsGREASE(v uint16) bool { return v&0x0f0f == 0x0a0a && v>>8 == v&0xff }

// VersionName returns Zeek's name for a TLS version: SSLv3, TLSv10 …
// TLSv13, or the number in hex for anything else (drafts).
func VersionName(v uint16) string {
	switch v {
	case 0x0300:
		return "SSLv3"
	case 0x0301:
		return "TLSv10"
	case 0x0302:
		return "TLSv11"
	case 0x0303:
		return "TLSv12"
	case 0x0304:
		return "TLSv13"
	case 0x0002:
		return "SSLv2"
	}
	return "0x" + hex.EncodeToString([]byte{byte(v >> 8), byte(v)})
}

// helloRetryRandom is the ServerHello random that marks a
// HelloRetryRequest (RFC 8446, 4.1.3).
var helloRetryRandom = [32]byte{
	0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
	0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
}

// reader reads big-endian fields, remembering whether it ran short.
type reader struct {
	b   []byte
	bad bool
}

func (r *reader) u8() uint8 {
	if len(r.b) < 1 {
		r.bad = true
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v
}

func (r *reader) u16() uint16 {
	if len(r.b) < 2 {
		r.bad, r.b = true, nil
		return 0
	}
	v := binary.BigEndian.Uint16(r.b)
	r.b = r.b[2:]
	return v
}

func (r *reader) bytes(n int) []byte {
	if n > len(r.b) {
		r.bad, r.b = true, nil
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) vec8() []byte  { return r.bytes(int(r.u8())) }
func (r *reader) vec16() []byte { return r.bytes(int(r.u16())) }

func u16s(b []byte) []uint16 {
	out := make([]uint16, 0, len(b)/2)
	for i := 0; i+1 < len(b); i += 2 {
		out = append(out, binary.BigEndian.Uint16(b[i:]))
	}
	return out
}

// parseClientHello reads a ClientHello body.
func parseClientHello(body []byte, ts int64) (*ClientHello, bool) {
	r := reader{b: body}
	ch := &ClientHello{Time: ts}
	ch.Version = r.u16()
	r.bytes(32) // random
	ch.SessionID = append([]byte(nil), r.vec8()...)
	ch.Ciphers = u16s(r.vec16())
	r.vec8() // compression methods
	if r.bad {
		return ch, false
	}
	ext := reader{b: r.vec16()}
	for len(ext.b) >= 4 {
		typ := ext.u16()
		data := reader{b: ext.vec16()}
		ch.Extensions = append(ch.Extensions, typ)
		switch typ {
		case 0: // server_name
			list := reader{b: data.vec16()}
			for len(list.b) > 0 {
				kind := list.u8()
				name := list.vec16()
				if kind == 0 && ch.SNI == "" {
					ch.SNI = string(name)
				}
			}
		case 10:
			ch.Groups = u16s(data.vec16())
		case 11:
			ch.PointFormats = append([]uint8(nil), data.vec8()...)
		case 13:
			ch.SigAlgs = u16s(data.vec16())
		case 16: // ALPN
			list := reader{b: data.vec16()}
			for len(list.b) > 0 && !list.bad {
				ch.ALPN = append(ch.ALPN, string(list.vec8()))
			}
		case 41:
			ch.PSK = true
		case 43:
			ch.Versions = u16s(data.vec8())
		case 0xfe0d:
			ch.ECH = true
		}
	}
	return ch, !ext.bad
}

// parseServerHello reads a ServerHello body.
func parseServerHello(body []byte, ts int64) (*ServerHello, bool) {
	r := reader{b: body}
	sh := &ServerHello{Time: ts}
	sh.Version = r.u16()
	random := r.bytes(32)
	sh.HRR = len(random) == 32 && [32]byte(random) == helloRetryRandom
	sh.SessionID = append([]byte(nil), r.vec8()...)
	sh.Cipher = r.u16()
	r.u8() // compression
	if r.bad {
		return sh, false
	}
	ext := reader{b: r.vec16()}
	for len(ext.b) >= 4 {
		typ := ext.u16()
		data := reader{b: ext.vec16()}
		sh.Extensions = append(sh.Extensions, typ)
		switch typ {
		case 16:
			list := reader{b: data.vec16()}
			sh.ALPN = string(list.vec8())
		case 43:
			sh.Selected = data.u16()
		case 51:
			sh.KeyShare = data.u16()
		}
	}
	return sh, !ext.bad
}

// CipherName returns the IANA name of a cipher suite, or its number in
// hex when the registry has no name for it.
func CipherName(c uint16) string {
	if n, ok := cipherNames[c]; ok {
		return n
	}
	return "0x" + hex.EncodeToString([]byte{byte(c >> 8), byte(c)})
}

// GroupName returns the name of a named group (elliptic curve or key
// exchange), as Zeek logs the curve, or its number in hex.
func GroupName(g uint16) string {
	if n, ok := groupNames[g]; ok {
		return n
	}
	return "0x" + hex.EncodeToString([]byte{byte(g >> 8), byte(g)})
}

var groupNames = map[uint16]string{
	23: "secp256r1", 24: "secp384r1", 25: "secp521r1", 29: "x25519", 30: "x448",
	256: "ffdhe2048", 257: "ffdhe3072", 258: "ffdhe4096", 259: "ffdhe6144", 260: "ffdhe8192",
	0x6399: "X25519Kyber768Draft00", 0x11ec: "X25519MLKEM768",
}
