package tlshello

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/netip"
	"time"
	"unicode/utf8"
)

// The certificate fields come from a DER walk of its TBSCertificate,
// written for what the handshake records need: crypto/x509 parses the
// whole certificate, public key included (a P-256 key is checked to lie
// on the curve), and took 7.5% of the CPU time of the benchmark workload
// with every parser on, with a quarter of its allocations. The walk reads
// the issuer, the validity, the subject and the subject alternative names,
// and formats the names as crypto/x509's Name.String does, so that its
// output is the same (a fuzz test holds it to that on every certificate
// crypto/x509 accepts). It is laxer than crypto/x509 about the parts it
// skips: a certificate with an unparsable key or a duplicated extension
// still gets its names.

var (
	errCertDER      = errors.New("tlshello: certificate: malformed DER")
	errCertTime     = errors.New("tlshello: certificate: malformed validity time")
	errCertName     = errors.New("tlshello: certificate: malformed name")
	errCertSAN      = errors.New("tlshello: certificate: malformed subject alternative name")
	errCertStrType  = errors.New("tlshello: certificate: unsupported string type in name")
	errCertStrValue = errors.New("tlshello: certificate: invalid characters for the string type in name")
)

// DER tags used below.
const (
	tagInteger         = 0x02
	tagOctetString     = 0x04
	tagBoolean         = 0x01
	tagOID             = 0x06
	tagUTF8String      = 0x0c
	tagNumericString   = 0x12
	tagPrintableString = 0x13
	tagT61String       = 0x14
	tagIA5String       = 0x16
	tagUTCTime         = 0x17
	tagGeneralizedTime = 0x18
	tagBMPString       = 0x1e
	tagSequence        = 0x30
	tagSet             = 0x31
	tagVersion         = 0xa0 // [0] EXPLICIT
	tagIssuerUID       = 0x81 // [1] IMPLICIT
	tagSubjectUID      = 0x82 // [2] IMPLICIT
	tagExtensions      = 0xa3 // [3] EXPLICIT
	tagSANDNS          = 0x82 // GeneralName [2] dNSName
	tagSANIP           = 0x87 // GeneralName [7] iPAddress
)

func certificate(der []byte) Certificate {
	sum := sha256.Sum256(der)
	c := Certificate{SHA256: hex.EncodeToString(sum[:])}
	if err := c.parse(der); err != nil {
		c.Subject, c.Issuer, c.NotBefore, c.NotAfter, c.SANs = "", "", 0, 0, nil
		c.Err = err.Error()
	}
	return c
}

// textSize is what c's text holds, in bytes: its strings and their
// headers.
func (c *Certificate) textSize() int {
	n := len(c.SHA256) + len(c.Subject) + len(c.Issuer) + len(c.Err) + 4*16
	for _, s := range c.SANs {
		n += len(s) + 16
	}
	return n
}

// parse fills c's fields from a DER certificate.
func (c *Certificate) parse(der []byte) error {
	cert, ok := expect(&der, tagSequence)
	if !ok {
		return errCertDER
	}
	tbs, ok := expect(&cert, tagSequence)
	if !ok {
		return errCertDER
	}
	v2, v3 := false, false
	if peek(tbs) == tagVersion {
		version, _ := expect(&tbs, tagVersion)
		// Unique identifiers come in version 2 (encoded 1) and 3 (2),
		// extensions in version 3 only.
		v2, v3 = string(version) == "\x02\x01\x01", string(version) == "\x02\x01\x02"
	}
	// serialNumber, signature, issuer, validity, subject,
	// subjectPublicKeyInfo.
	var fields [6][]byte
	for i := range fields {
		tag := byte(tagSequence)
		if i == 0 {
			tag = tagInteger
		}
		if fields[i], ok = expect(&tbs, tag); !ok {
			return errCertDER
		}
	}
	issuer, validity, subject := fields[2], fields[3], fields[4]
	var err error
	if c.NotBefore, err = readTime(&validity); err != nil {
		return err
	}
	if c.NotAfter, err = readTime(&validity); err != nil {
		return err
	}
	// One allocation for both names: Issuer is a substring of it.
	var buf [512]byte
	b, err := appendName(buf[:0], issuer)
	if err != nil {
		return err
	}
	n := len(b)
	if b, err = appendName(b, subject); err != nil {
		return err
	}
	s := string(b)
	c.Issuer, c.Subject = s[:n], s[n:]
	if !v2 && !v3 {
		return nil
	}
	// As crypto/x509 does: the optional fields in their order, each read
	// only when its tag comes next; whatever follows them is not looked at.
	for _, tag := range [...]byte{tagIssuerUID, tagSubjectUID} {
		if peek(tbs) == tag {
			if _, _, ok := readTag(&tbs); !ok {
				return errCertDER
			}
		}
	}
	if v3 && peek(tbs) == tagExtensions {
		v, ok := expect(&tbs, tagExtensions)
		if !ok {
			return errCertDER
		}
		return c.extensions(v)
	}
	return nil
}

// oidSAN is 2.5.29.17, subjectAltName, as DER content bytes.
var oidSAN = []byte{0x55, 0x1d, 0x11}

// extensions reads the subject alternative names out of the
// extensions field's content.
func (c *Certificate) extensions(v []byte) error {
	exts, ok := expect(&v, tagSequence)
	if !ok {
		return errCertDER
	}
	var dns []string
	var ips []netip.Addr
	for len(exts) > 0 {
		ext, ok := expect(&exts, tagSequence)
		if !ok {
			return errCertDER
		}
		id, ok := expect(&ext, tagOID)
		if !ok {
			return errCertDER
		}
		if peek(ext) == tagBoolean {
			skip(&ext)
		}
		val, ok := expect(&ext, tagOctetString)
		if !ok {
			return errCertDER
		}
		if string(id) != string(oidSAN) {
			continue
		}
		names, ok := expect(&val, tagSequence)
		if !ok {
			return errCertSAN
		}
		for len(names) > 0 {
			tag, name, ok := readTag(&names)
			if !ok {
				return errCertSAN
			}
			switch tag {
			case tagSANDNS:
				for _, ch := range name {
					if ch >= utf8.RuneSelf {
						return errCertSAN
					}
				}
				dns = append(dns, string(name))
			case tagSANIP:
				switch len(name) {
				case 4:
					ips = append(ips, netip.AddrFrom4([4]byte(name)))
				case 16:
					ips = append(ips, netip.AddrFrom16([16]byte(name)).Unmap())
				default:
					return errCertSAN
				}
			}
		}
	}
	if len(dns)+len(ips) == 0 {
		return nil
	}
	c.SANs = make([]string, 0, len(dns)+len(ips))
	c.SANs = append(c.SANs, dns...)
	for _, ip := range ips {
		c.SANs = append(c.SANs, ip.String())
	}
	return nil
}

// readTag reads one DER element off b: its tag and content. High tag
// numbers, indefinite lengths and lengths over 4 bytes are refused.
func readTag(b *[]byte) (tag byte, content []byte, ok bool) {
	s := *b
	if len(s) < 2 || s[0]&0x1f == 0x1f {
		return 0, nil, false
	}
	tag = s[0]
	n, hdr := int(s[1]), 2
	if n >= 0x80 {
		k := n & 0x7f
		if k == 0 || k > 4 || len(s) < 2+k {
			return 0, nil, false
		}
		n = 0
		for _, x := range s[2 : 2+k] {
			n = n<<8 | int(x)
		}
		hdr += k
	}
	if n > len(s)-hdr {
		return 0, nil, false
	}
	*b = s[hdr+n:]
	return tag, s[hdr : hdr+n], true
}

// expect reads an element with the given tag off b.
func expect(b *[]byte, want byte) ([]byte, bool) {
	rest := *b
	tag, v, ok := readTag(&rest)
	if !ok || tag != want {
		return nil, false
	}
	*b = rest
	return v, true
}

// peek returns the tag of the next element of b, 0 when there is none.
func peek(b []byte) byte {
	if len(b) == 0 {
		return 0
	}
	return b[0]
}

// skip drops the next element of b, or all of b when it is malformed.
func skip(b *[]byte) {
	if _, _, ok := readTag(b); !ok {
		*b = nil
	}
}

// readTime reads a UTCTime or GeneralizedTime off b, in Unix
// nanoseconds, accepting what crypto/x509 accepts: UTCTime with or
// without seconds, GeneralizedTime with seconds, both with Z or a
// nonzero +hhmm/-hhmm offset; UTCTime years 50-99 are 1950-1999.
func readTime(b *[]byte) (int64, error) {
	tag, v, ok := readTag(b)
	if !ok {
		return 0, errCertDER
	}
	var year, digits int
	switch tag {
	case tagUTCTime:
		yy, ok := num(v, 0, 2)
		if !ok {
			return 0, errCertTime
		}
		year = 1900 + yy
		if yy < 50 {
			year = 2000 + yy
		}
		v, digits = v[2:], 10
		if len(v) < digits || !isDigits(v[8:10]) {
			digits = 8 // no seconds
		}
	case tagGeneralizedTime:
		yyyy, ok := num(v, 0, 4)
		if !ok {
			return 0, errCertTime
		}
		year, v, digits = yyyy, v[4:], 10
	default:
		return 0, errCertTime
	}
	month, ok1 := num(v, 0, 2)
	day, ok2 := num(v, 2, 2)
	hour, ok3 := num(v, 4, 2)
	minute, ok4 := num(v, 6, 2)
	second, ok5 := 0, true
	if digits == 10 {
		second, ok5 = num(v, 8, 2)
	}
	if !(ok1 && ok2 && ok3 && ok4 && ok5) || month < 1 || month > 12 || day < 1 ||
		day > daysIn(time.Month(month), year) || hour > 23 || minute > 59 || second > 59 {
		return 0, errCertTime
	}
	zone := v[digits:]
	offset := 0
	switch {
	case len(zone) == 1 && zone[0] == 'Z':
	case len(zone) == 5 && (zone[0] == '+' || zone[0] == '-'):
		hh, ok1 := num(zone, 1, 2)
		mm, ok2 := num(zone, 3, 2)
		// +0000 is not the canonical form of UTC, which is Z.
		if !ok1 || !ok2 || hh > 24 || mm > 59 || hh+mm == 0 {
			return 0, errCertTime
		}
		offset = (hh*60 + mm) * 60
		if zone[0] == '-' {
			offset = -offset
		}
	default:
		return 0, errCertTime
	}
	sec := time.Date(year, time.Month(month), day, hour, minute, second, 0, time.UTC).Unix() - int64(offset)
	return sec * 1e9, nil // wraps past 2262 as time.Time.UnixNano does
}

// num parses the n decimal digits of b at i.
func num(b []byte, i, n int) (int, bool) {
	if i+n > len(b) || !isDigits(b[i:i+n]) {
		return 0, false
	}
	v := 0
	for _, c := range b[i : i+n] {
		v = v*10 + int(c-'0')
	}
	return v, true
}

func isDigits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func daysIn(m time.Month, year int) int {
	if m == time.February {
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	}
	return 31 - int((m-1)%7%2)
}
