package main

import (
	"crypto/ed25519"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"math/big"
	"math/rand/v2"
	"sync"
	"time"
)

// TLS record content types.
const (
	recCCS       = 20
	recHandshake = 22
	recAppData   = 23
)

func record(typ byte, version uint16, body []byte) []byte {
	b := []byte{typ, byte(version >> 8), byte(version), byte(len(body) >> 8), byte(len(body))}
	return append(b, body...)
}

func handshakeMsg(typ byte, body []byte) []byte {
	b := []byte{typ, byte(len(body) >> 16), byte(len(body) >> 8), byte(len(body))}
	return append(b, body...)
}

func u16(v int) []byte { return []byte{byte(v >> 8), byte(v)} }

func ext(typ int, body []byte) []byte { return append(append(u16(typ), u16(len(body))...), body...) }

func vec16(b []byte) []byte { return append(u16(len(b)), b...) }

func vec8(b []byte) []byte { return append([]byte{byte(len(b))}, b...) }

// clientHello builds a browser-like ClientHello: with TLS 1.3 offered
// (supported_versions, key_share) or TLS 1.2 only.
func clientHello(rng *rand.Rand, host string, tls13 bool) []byte {
	body := u16(0x0303)
	body = append(body, randomBytes(rng, 32)...)
	body = append(body, vec8(randomBytes(rng, 32))...) // session id
	var suites []int
	if tls13 {
		suites = append(suites, 0x1301, 0x1302, 0x1303)
	}
	suites = append(suites, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013, 0xc014, 0x009c, 0x009d, 0x002f, 0x0035)
	var cs []byte
	for _, s := range suites {
		cs = append(cs, u16(s)...)
	}
	body = append(body, vec16(cs)...)
	body = append(body, 1, 0) // null compression
	var exts []byte
	exts = append(exts, ext(0, vec16(append([]byte{0}, vec16([]byte(host))...)))...) // server_name
	exts = append(exts, ext(23, nil)...)                                             // extended_master_secret
	exts = append(exts, ext(0xff01, []byte{0})...)                                   // renegotiation_info
	exts = append(exts, ext(10, vec16([]byte{0, 0x1d, 0, 0x17, 0, 0x18}))...)        // supported_groups
	exts = append(exts, ext(11, vec8([]byte{0}))...)                                 // ec_point_formats
	exts = append(exts, ext(35, nil)...)                                             // session_ticket
	exts = append(exts, ext(16, vec16(append(vec8([]byte("h2")), vec8([]byte("http/1.1"))...)))...)
	exts = append(exts, ext(5, []byte{1, 0, 0, 0, 0})...) // status_request
	exts = append(exts, ext(13, vec16([]byte{4, 3, 8, 4, 4, 1, 5, 3, 8, 5, 5, 1, 8, 6, 6, 1}))...)
	exts = append(exts, ext(18, nil)...) // signed_certificate_timestamp
	if tls13 {
		exts = append(exts, ext(51, vec16(append(u16(0x1d), vec16(randomBytes(rng, 32))...)))...) // key_share
		exts = append(exts, ext(45, vec8([]byte{1}))...)                                          // psk_key_exchange_modes
		exts = append(exts, ext(43, vec8([]byte{3, 4, 3, 3}))...)                                 // supported_versions
	}
	body = append(body, vec16(exts)...)
	return record(recHandshake, 0x0301, handshakeMsg(1, body))
}

// certs holds one self-signed Ed25519 certificate per host, made on first
// use; Ed25519 signatures are deterministic, so the bytes are the same on
// every run.
var certs sync.Map

func certFor(host string, n int) []byte {
	if c, ok := certs.Load(host); ok {
		return c.([]byte)
	}
	seed := make([]byte, ed25519.SeedSize)
	binary.BigEndian.PutUint64(seed, uint64(n)+1)
	key := ed25519.NewKeyFromSeed(seed)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(int64(n) + 1000),
		Subject:      pkix.Name{CommonName: host, Organization: []string{"Example Workload"}},
		Issuer:       pkix.Name{CommonName: "Workload CA"},
		NotBefore:    time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		NotAfter:     time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC),
		DNSNames:     []string{host},
	}
	der, err := x509.CreateCertificate(nil, tmpl, tmpl, key.Public(), key)
	if err != nil {
		panic(err) // a fixed template that does not sign is a bug here
	}
	certs.Store(host, der)
	return der
}

// flight is what one side sends before waiting for the other.
type flight struct {
	fromClient bool
	data       []byte
}

// tlsSession returns the flights of a TLS connection: the handshake, then
// exchanges of application data (a request, a response).
func tlsSession(rng *rand.Rand, host string, hostN int, tls13 bool, exchanges int) []flight {
	fl := []flight{{true, clientHello(rng, host, tls13)}}
	cert := certFor(host, hostN)
	overhead := 24 // TLS 1.2 AES-GCM: explicit nonce and tag
	var clientFinish []byte
	if tls13 {
		overhead = 17 // inner content type and tag
		sh := u16(0x0303)
		sh = append(sh, randomBytes(rng, 32)...)
		sh = append(sh, vec8(randomBytes(rng, 32))...)
		sh = append(sh, u16(0x1301)...)
		sh = append(sh, 0)
		var exts []byte
		exts = append(exts, ext(43, u16(0x0304))...)
		exts = append(exts, ext(51, append(u16(0x1d), vec16(randomBytes(rng, 32))...))...)
		sh = append(sh, vec16(exts)...)
		s := record(recHandshake, 0x0303, handshakeMsg(2, sh))
		s = append(s, record(recCCS, 0x0303, []byte{1})...)
		// EncryptedExtensions, Certificate, CertificateVerify, Finished.
		s = append(s, record(recAppData, 0x0303, randomBytes(rng, len(cert)+40+100+36+overhead))...)
		fl = append(fl, flight{false, s})
		clientFinish = record(recCCS, 0x0303, []byte{1})
		clientFinish = append(clientFinish, record(recAppData, 0x0303, randomBytes(rng, 36+overhead))...)
	} else {
		sh := u16(0x0303)
		sh = append(sh, randomBytes(rng, 32)...)
		sh = append(sh, vec8(randomBytes(rng, 32))...)
		sh = append(sh, u16(0xc02f)...)
		sh = append(sh, 0)
		var exts []byte
		exts = append(exts, ext(0xff01, []byte{0})...)
		exts = append(exts, ext(11, vec8([]byte{0}))...)
		exts = append(exts, ext(23, nil)...)
		exts = append(exts, ext(16, vec16(vec8([]byte("http/1.1"))))...)
		sh = append(sh, vec16(exts)...)
		msgs := handshakeMsg(2, sh)
		chain := append([]byte{byte(len(cert) >> 16)}, u16(len(cert))...)
		chain = append(chain, cert...)
		msgs = append(msgs, handshakeMsg(11, append([]byte{byte(len(chain) >> 16)}, append(u16(len(chain)), chain...)...))...)
		ske := []byte{3, 0, 0x1d}
		ske = append(ske, vec8(randomBytes(rng, 32))...)
		ske = append(ske, 8, 7)
		ske = append(ske, vec16(randomBytes(rng, 64))...)
		msgs = append(msgs, handshakeMsg(12, ske)...)
		msgs = append(msgs, handshakeMsg(14, nil)...)
		fl = append(fl, flight{false, record(recHandshake, 0x0303, msgs)})
		c := record(recHandshake, 0x0303, handshakeMsg(16, vec8(randomBytes(rng, 32))))
		c = append(c, record(recCCS, 0x0303, []byte{1})...)
		c = append(c, record(recHandshake, 0x0303, randomBytes(rng, 16+overhead))...)
		fl = append(fl, flight{true, c})
		s := record(recCCS, 0x0303, []byte{1})
		s = append(s, record(recHandshake, 0x0303, randomBytes(rng, 16+overhead))...)
		fl = append(fl, flight{false, s})
	}
	for i := range exchanges {
		req := appData(rng, 250+rng.IntN(700), overhead)
		if i == 0 && clientFinish != nil {
			req = append(clientFinish, req...) // TLS 1.3: Finished and the request in one flight
		}
		fl = append(fl, flight{true, req})
		resp := appData(rng, bodySize(rng), overhead)
		if tls13 && i == 0 {
			resp = append(appData(rng, 230, overhead), resp...) // NewSessionTicket first
		}
		fl = append(fl, flight{false, resp})
	}
	return fl
}

// appData returns n bytes of application data as encrypted records of at
// most 16 KiB of plaintext each.
func appData(rng *rand.Rand, n, overhead int) []byte {
	var b []byte
	for n > 0 {
		k := min(n, 16384)
		b = append(b, record(recAppData, 0x0303, randomBytes(rng, k+overhead))...)
		n -= k
	}
	return b
}
