package tlshello

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"
	"net"
	"slices"
	"sync"
	"testing"
	"time"
)

var (
	certKeyOnce sync.Once
	certKey     *ecdsa.PrivateKey
)

// makeCert returns a self-signed certificate made from tmpl.
func makeCert(t testing.TB, tmpl *x509.Certificate) []byte {
	t.Helper()
	certKeyOnce.Do(func() {
		var err error
		if certKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
			panic(err)
		}
	})
	if tmpl.SerialNumber == nil {
		tmpl.SerialNumber = big.NewInt(7)
	}
	if tmpl.NotBefore.IsZero() {
		tmpl.NotBefore = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
		tmpl.NotAfter = time.Date(2027, 1, 2, 3, 4, 5, 0, time.UTC)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &certKey.PublicKey, certKey)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// rawName encodes a name with one attribute per RDN, or several in one
// when a group is given, each value with its own string tag.
func rawName(t testing.TB, rdns ...[]rawAttr) []byte {
	t.Helper()
	var seq pkix.RDNSequence
	for _, rdn := range rdns {
		var set pkix.RelativeDistinguishedNameSET
		for _, a := range rdn {
			set = append(set, pkix.AttributeTypeAndValue{Type: a.oid, Value: asn1.RawValue{Tag: a.tag, Bytes: a.value}})
		}
		seq = append(seq, set)
	}
	b, err := asn1.Marshal(seq)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type rawAttr struct {
	oid   asn1.ObjectIdentifier
	tag   int
	value []byte
}

func one(oid asn1.ObjectIdentifier, tag int, value string) []rawAttr {
	return []rawAttr{{oid, tag, []byte(value)}}
}

var (
	oidCN     = asn1.ObjectIdentifier{2, 5, 4, 3}
	oidO      = asn1.ObjectIdentifier{2, 5, 4, 10}
	oidOU     = asn1.ObjectIdentifier{2, 5, 4, 11}
	oidC      = asn1.ObjectIdentifier{2, 5, 4, 6}
	oidSerial = asn1.ObjectIdentifier{2, 5, 4, 5}
	oidEmail  = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 1}
	oidDC     = asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 25}
)

// checkAgainstX509 fails t when certificate(der) disagrees with
// crypto/x509 on a certificate crypto/x509 accepts; it reports whether
// crypto/x509 accepted it.
func checkAgainstX509(t testing.TB, der []byte) bool {
	t.Helper()
	ref, err := x509.ParseCertificate(der)
	if err != nil {
		return false
	}
	got := certificate(der)
	want := Certificate{SHA256: got.SHA256, Subject: ref.Subject.String(), Issuer: ref.Issuer.String(),
		NotBefore: ref.NotBefore.UnixNano(), NotAfter: ref.NotAfter.UnixNano()}
	want.SANs = append(want.SANs, ref.DNSNames...)
	for _, ip := range ref.IPAddresses {
		want.SANs = append(want.SANs, ip.String())
	}
	if got.Err != "" || got.Subject != want.Subject || got.Issuer != want.Issuer ||
		got.NotBefore != want.NotBefore || got.NotAfter != want.NotAfter || !slices.Equal(got.SANs, want.SANs) {
		t.Errorf("certificate(%x)\n got %+v\nwant %+v (crypto/x509)", der, got, want)
	}
	return true
}

// certCases are certificates crypto/x509 accepts, covering what the DER
// walk must agree with it on.
func certCases(t testing.TB) map[string][]byte {
	t.Helper()
	utf16be := func(s string) string {
		var b []byte
		for _, r := range s {
			b = append(b, byte(r>>8), byte(r))
		}
		return string(b)
	}
	cases := map[string]*x509.Certificate{
		"plain": {Subject: pkix.Name{CommonName: "www.example.com", Organization: []string{"Example"}, Country: []string{"US"}}},
		"every named type": {Subject: pkix.Name{CommonName: "cn", SerialNumber: "42", Country: []string{"DE", "FR"},
			Organization: []string{"o1", "o2"}, OrganizationalUnit: []string{"ou1", "ou2"}, Locality: []string{"l"},
			Province: []string{"st"}, StreetAddress: []string{"street 1"}, PostalCode: []string{"12345"}}},
		"extra names": {Subject: pkix.Name{CommonName: "x", ExtraNames: []pkix.AttributeTypeAndValue{
			{Type: oidEmail, Value: "admin@example.com"}, {Type: oidDC, Value: "example"}, {Type: oidDC, Value: "Ünïcode"}}}},
		"escapes": {Subject: pkix.Name{CommonName: " #lead, trail+ \"q\" <a> ;\\ ", Organization: []string{"#", " ", ""}}},
		"sans": {Subject: pkix.Name{CommonName: "san"}, DNSNames: []string{"a.example", "*.b.example"},
			IPAddresses: []net.IP{net.IPv4(192, 0, 2, 1), net.ParseIP("2001:db8::1"), net.ParseIP("::ffff:10.0.0.1")}},
		"far dates": {Subject: pkix.Name{CommonName: "dates"},
			NotBefore: time.Date(1949, 12, 31, 23, 59, 59, 0, time.UTC), NotAfter: time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)},
		"utc years 1950 and 2049": {Subject: pkix.Name{CommonName: "utc"},
			NotBefore: time.Date(1950, 2, 28, 0, 0, 0, 0, time.UTC), NotAfter: time.Date(2049, 12, 31, 0, 0, 0, 0, time.UTC)},
		"leap day": {Subject: pkix.Name{CommonName: "leap"},
			NotBefore: time.Date(2024, 2, 29, 12, 0, 0, 0, time.UTC), NotAfter: time.Date(2096, 2, 29, 12, 0, 0, 0, time.UTC)},
		"string types": {RawSubject: rawName(t,
			one(oidC, asn1.TagPrintableString, "US"),
			one(oidO, asn1.TagT61String, "Caf\xe9"),
			one(oidOU, asn1.TagBMPString, utf16be("Bmp ü")+"\x00\x00"),
			one(oidCN, asn1.TagIA5String, "ia5.example"),
			one(oidSerial, asn1.TagNumericString, "0123 456"),
			one(oidEmail, asn1.TagIA5String, "a*b&c@example"),
			one(oidDC, asn1.TagUTF8String, "snow ☃"),
			one(oidDC, asn1.TagPrintableString, "wild*card&co"),
		)},
		"multi-valued rdn and last common name": {RawSubject: rawName(t,
			[]rawAttr{{oidCN, asn1.TagUTF8String, []byte("first")}, {oidO, asn1.TagUTF8String, []byte("org")}},
			one(oidCN, asn1.TagUTF8String, "second"),
		)},
		"empty last common name": {RawSubject: rawName(t,
			one(oidCN, asn1.TagUTF8String, "kept?"),
			one(oidCN, asn1.TagUTF8String, ""),
			one(oidO, asn1.TagUTF8String, "o"),
		)},
		"long extra value": {RawSubject: rawName(t,
			one(oidDC, asn1.TagUTF8String, string(bytes.Repeat([]byte("long value "), 30))),
		)},
		"empty name": {Subject: pkix.Name{}},
	}
	out := map[string][]byte{}
	for name, tmpl := range cases {
		out[name] = makeCert(t, tmpl)
	}
	return out
}

func TestCertificateAgreesWithX509(t *testing.T) {
	for name, der := range certCases(t) {
		t.Run(name, func(t *testing.T) {
			if !checkAgainstX509(t, der) {
				t.Fatal("crypto/x509 refuses the test certificate")
			}
		})
	}
}

func TestCertificateTimes(t *testing.T) {
	// Encodings crypto/x509 does not write but reads; each is checked
	// against it, and the accepted ones against the time expected.
	for _, tc := range []struct {
		name string
		tag  int
		text string
		want time.Time // zero: refused
	}{
		{"utc without seconds", asn1.TagUTCTime, "2601020304Z", time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC)},
		{"utc with offset", asn1.TagUTCTime, "260102030405+0130", time.Date(2026, 1, 2, 1, 34, 5, 0, time.UTC)},
		{"utc negative offset", asn1.TagUTCTime, "260102030405-2400", time.Date(2026, 1, 3, 3, 4, 5, 0, time.UTC)},
		{"utc 1999", asn1.TagUTCTime, "991231235959Z", time.Date(1999, 12, 31, 23, 59, 59, 0, time.UTC)},
		{"generalized with offset", asn1.TagGeneralizedTime, "20260102030405-0100", time.Date(2026, 1, 2, 4, 4, 5, 0, time.UTC)},
		{"zero offset is not Z", asn1.TagUTCTime, "260102030405+0000", time.Time{}},
		{"offset minute 60", asn1.TagUTCTime, "260102030405+0160", time.Time{}},
		{"february 30", asn1.TagUTCTime, "260230030405Z", time.Time{}},
		{"february 29 of 2100", asn1.TagGeneralizedTime, "21000229000000Z", time.Time{}},
		{"hour 24", asn1.TagUTCTime, "260102240000Z", time.Time{}},
		{"second 60", asn1.TagUTCTime, "260102235960Z", time.Time{}},
		{"fraction", asn1.TagGeneralizedTime, "20260102030405.5Z", time.Time{}},
		{"no zone", asn1.TagUTCTime, "260102030405", time.Time{}},
		{"letters", asn1.TagUTCTime, "26o102030405Z", time.Time{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			der := makeCert(t, &x509.Certificate{Subject: pkix.Name{CommonName: "t"}})
			der = replaceValidity(t, der, tc.tag, tc.text)
			accepted := checkAgainstX509(t, der)
			got := certificate(der)
			if tc.want.IsZero() {
				if accepted || got.Err == "" {
					t.Errorf("%q: crypto/x509 accepted %v, ours Err %q; want both to refuse", tc.text, accepted, got.Err)
				}
				return
			}
			if !accepted || got.NotBefore != tc.want.UnixNano() {
				t.Errorf("%q: crypto/x509 accepted %v; NotBefore = %v, want %v", tc.text, accepted,
					time.Unix(0, got.NotBefore).UTC(), tc.want)
			}
		})
	}
}

// replaceValidity returns der with its notBefore replaced by an element
// of the given tag and text.
func replaceValidity(t *testing.T, der []byte, tag int, text string) []byte {
	t.Helper()
	old, err := asn1.Marshal(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	repl, err := asn1.Marshal(asn1.RawValue{Tag: tag, Bytes: []byte(text)})
	if err != nil {
		t.Fatal(err)
	}
	return rewriteTBS(t, der, func(tbs []byte) []byte {
		edited := bytes.Replace(tbs, old, repl, 1)
		if bytes.Equal(edited, tbs) {
			t.Fatal("notBefore not found")
		}
		// The validity sequence's length changed too.
		validityLen := bytes.Index(edited, repl) - 1
		edited[validityLen] = byte(int(edited[validityLen]) + len(repl) - len(old))
		return edited
	})
}

// rewriteTBS returns der with the content of its to-be-signed part
// replaced by what edit makes of it, the enclosing lengths re-encoded.
func rewriteTBS(t *testing.T, der []byte, edit func(tbs []byte) []byte) []byte {
	t.Helper()
	var cert struct{ TBS, Algorithm, Signature asn1.RawValue }
	if _, err := asn1.Unmarshal(der, &cert); err != nil {
		t.Fatal(err)
	}
	cert.TBS = asn1.RawValue{Tag: asn1.TagSequence, IsCompound: true, Bytes: edit(cert.TBS.Bytes)}
	out, err := asn1.Marshal(cert)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// withTBSTail returns der with its to-be-signed part's fields after the
// public key replaced by tail (the enclosing lengths re-encoded).
func withTBSTail(t *testing.T, der, tail []byte) []byte {
	t.Helper()
	return rewriteTBS(t, der, func(tbs []byte) []byte {
		// version, serial, signature, issuer, validity, subject, key
		var head []byte
		for range 7 {
			var v asn1.RawValue
			rest, err := asn1.Unmarshal(tbs, &v)
			if err != nil {
				t.Fatal(err)
			}
			head, tbs = append(head, v.FullBytes...), rest
		}
		return append(head, tail...)
	})
}

// TestCertificateAfterTheKey: after the public key, the unique
// identifiers and the extensions are read as crypto/x509 reads them, each
// only when its tag comes next, and what follows them is not looked at:
// certificates with bytes there that are not DER still give their names.
func TestCertificateAfterTheKey(t *testing.T) {
	der := makeCert(t, &x509.Certificate{Subject: pkix.Name{CommonName: "tail"}, DNSNames: []string{"tail.example"}})
	noExts := withTBSTail(t, der, nil)
	var extField []byte // the extensions, last in the TBS
	rewriteTBS(t, der, func(tbs []byte) []byte {
		extField = slices.Clone(tbs[bytes.LastIndex(tbs, []byte{0xa3}):])
		return tbs
	})
	garbage := []byte{0x30, 0x30, 0x30, 0x30}
	for _, tc := range []struct {
		name string
		tail []byte
		sans bool // the SAN extension is read
	}{
		{"garbage after the key", garbage, false},
		{"extensions, then garbage", append(slices.Clone(extField), garbage...), true},
		{"unique identifiers, extensions, garbage", append(append([]byte{0x81, 1, 0, 0x82, 2, 0, 7}, extField...), garbage...), true},
		{"extensions before a unique identifier", append(slices.Clone(extField), 0x81, 1, 0), true},
		{"another element before the extensions", append([]byte{0x30, 0}, extField...), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := withTBSTail(t, der, tc.tail)
			if !checkAgainstX509(t, d) {
				t.Fatal("crypto/x509 refuses the test certificate")
			}
			got := certificate(d)
			if got.Subject != "CN=tail" || (len(got.SANs) == 1) != tc.sans {
				t.Errorf("got %+v, want the subject and SANs read: %v", got, tc.sans)
			}
		})
	}
	if got := certificate(noExts); got.Err != "" || len(got.SANs) != 0 {
		t.Errorf("without extensions: %+v", got)
	}
	// A unique identifier whose length runs past the end is malformed to
	// both.
	bad := withTBSTail(t, der, []byte{0x81, 9, 0})
	if _, err := x509.ParseCertificate(bad); err == nil {
		t.Fatal("crypto/x509 accepts a cut unique identifier")
	}
	if got := certificate(bad); got.Err == "" {
		t.Errorf("a cut unique identifier: %+v, want an error", got)
	}
}

func TestCertificateWithBadKeyKeepsNames(t *testing.T) {
	der := makeCert(t, &x509.Certificate{Subject: pkix.Name{CommonName: "bad key", Organization: []string{"o"}},
		DNSNames: []string{"bad.example"}})
	point := elliptic.Marshal(elliptic.P256(), certKey.X, certKey.Y) //nolint:staticcheck // the encoding to find
	i := bytes.Index(der, point)
	if i < 0 {
		t.Fatal("public key not found in the certificate")
	}
	der = slices.Clone(der)
	der[i+len(point)-1] ^= 0x01 // off the curve
	if _, err := x509.ParseCertificate(der); err == nil {
		t.Fatal("crypto/x509 accepted a key off the curve; the test needs another defect")
	}
	got := certificate(der)
	if got.Err != "" || got.Subject != "CN=bad key,O=o" || !slices.Equal(got.SANs, []string{"bad.example"}) {
		t.Errorf("certificate with a bad key = %+v, want its names and no error", got)
	}
}

func TestCertificateMalformed(t *testing.T) {
	der := makeCert(t, &x509.Certificate{Subject: pkix.Name{CommonName: "cut"}})
	for n := 0; n < len(der); n += 7 {
		got := certificate(der[:n])
		if got.Err == "" {
			t.Fatalf("certificate(first %d of %d bytes) = %+v, want an error", n, len(der), got)
		}
		if got.SHA256 == "" || got.Subject != "" || got.SANs != nil {
			t.Fatalf("certificate(first %d bytes) = %+v, want the fingerprint alone", n, got)
		}
	}
}

func FuzzCertificate(f *testing.F) {
	for _, der := range certCases(f) {
		f.Add(der)
	}
	f.Fuzz(func(t *testing.T, der []byte) {
		c := certificate(der)
		if c.SHA256 == "" {
			t.Fatal("no fingerprint")
		}
		checkAgainstX509(t, der)
	})
}

func BenchmarkCertificate(b *testing.B) {
	der := makeCert(b, &x509.Certificate{Subject: pkix.Name{CommonName: "www.example.com", Organization: []string{"Example"}},
		DNSNames: []string{"www.example.com", "example.com"}})
	b.Run("walk", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			certificate(der)
		}
	})
	b.Run("crypto-x509", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			c, err := x509.ParseCertificate(der)
			if err != nil {
				b.Fatal(err)
			}
			_, _ = c.Subject.String(), c.Issuer.String()
		}
	})
}
