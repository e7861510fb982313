package tlshello

import (
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strconv"
	"strings"
)

// JA3 returns the JA3 string of a ClientHello (version, ciphers,
// extensions, groups, point formats; GREASE values left out) and its MD5.
func (c *ClientHello) JA3() (text, md5hex string) {
	var b strings.Builder
	b.WriteString(strconv.Itoa(int(c.Version)))
	b.WriteByte(',')
	writeList(&b, c.Ciphers)
	b.WriteByte(',')
	writeList(&b, c.Extensions)
	b.WriteByte(',')
	writeList(&b, c.Groups)
	b.WriteByte(',')
	for i, f := range c.PointFormats {
		if i > 0 {
			b.WriteByte('-')
		}
		b.WriteString(strconv.Itoa(int(f)))
	}
	text = b.String()
	sum := md5.Sum([]byte(text))
	return text, hex.EncodeToString(sum[:])
}

// JA3S returns the JA3S string of a ServerHello (version, cipher,
// extensions) and its MD5.
func (s *ServerHello) JA3S() (text, md5hex string) {
	var b strings.Builder
	b.WriteString(strconv.Itoa(int(s.Version)))
	b.WriteByte(',')
	b.WriteString(strconv.Itoa(int(s.Cipher)))
	b.WriteByte(',')
	writeList(&b, s.Extensions)
	text = b.String()
	sum := md5.Sum([]byte(text))
	return text, hex.EncodeToString(sum[:])
}

func writeList(b *strings.Builder, vs []uint16) {
	first := true
	for _, v := range vs {
		if IsGREASE(v) {
			continue
		}
		if !first {
			b.WriteByte('-')
		}
		first = false
		b.WriteString(strconv.Itoa(int(v)))
	}
}

// JA4 returns the JA4 TLS client fingerprint of a ClientHello sent over
// TCP, in its hashed form: t13d1516h2_8daaf6152771_e5627efa2ab1.
func (c *ClientHello) JA4() string {
	a, ciphers, rest := c.ja4Parts()
	return a + "_" + hash12(ciphers) + "_" + hash12(rest)
}

// JA4Raw returns JA4 with the sorted lists in place of their hashes.
func (c *ClientHello) JA4Raw() string {
	a, ciphers, rest := c.ja4Parts()
	return a + "_" + ciphers + "_" + rest
}

func (c *ClientHello) ja4Parts() (a, ciphers, rest string) {
	version := c.Version
	if vs := nonGREASE(c.Versions); len(vs) > 0 {
		version = slices.Max(vs)
	}
	vname := "00"
	switch version {
	case 0x0304:
		vname = "13"
	case 0x0303:
		vname = "12"
	case 0x0302:
		vname = "11"
	case 0x0301:
		vname = "10"
	case 0x0300:
		vname = "s3"
	case 0x0002:
		vname = "s2"
	}
	sni := byte('i')
	if c.SNI != "" {
		sni = 'd'
	}
	cs := nonGREASE(c.Ciphers)
	exts := nonGREASE(c.Extensions)
	alpn := "00"
	if len(c.ALPN) > 0 && c.ALPN[0] != "" {
		alpn = alpnChars(c.ALPN[0])
	}
	pre := make([]byte, 0, 10)
	pre = append(pre, 't')
	pre = append(pre, vname...)
	pre = append(pre, sni)
	pre = appendTwoDigits(pre, min(len(cs), 99))
	pre = appendTwoDigits(pre, min(len(exts), 99))
	a = string(append(pre, alpn...))

	ciphers = hexList(sorted(cs))
	var restExts []uint16
	for _, e := range exts {
		if e != 0x0000 && e != 0x0010 { // SNI and ALPN are in part a
			restExts = append(restExts, e)
		}
	}
	rest = hexList(sorted(restExts))
	if sigs := hexList(c.SigAlgs); sigs != "" {
		rest += "_" + sigs
	}
	return a, ciphers, rest
}

// alpnChars is the first and last character of the first ALPN value;
// "99" when one of them is not ASCII (as the reference implementation and
// its test vectors have it), and the first and last hex digits of the
// value's bytes when one is ASCII but not a letter or digit.
func alpnChars(v string) string {
	first, last := v[0], v[len(v)-1]
	if first > 127 || last > 127 {
		return "99"
	}
	if isAlnum(first) && isAlnum(last) {
		return string([]byte{first, last})
	}
	h := hex.EncodeToString([]byte(v))
	return string([]byte{h[0], h[len(h)-1]})
}

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

func nonGREASE(vs []uint16) []uint16 {
	out := make([]uint16, 0, len(vs))
	for _, v := range vs {
		if !IsGREASE(v) {
			out = append(out, v)
		}
	}
	return out
}

func sorted(vs []uint16) []uint16 {
	out := slices.Clone(vs)
	slices.Sort(out)
	return out
}

func appendTwoDigits(b []byte, n int) []byte { return append(b, byte('0'+n/10), byte('0'+n%10)) }

// hexList writes vs as four-digit lowercase hex numbers joined by commas.
func hexList(vs []uint16) string {
	if len(vs) == 0 {
		return ""
	}
	const digits = "0123456789abcdef"
	b := make([]byte, 0, 5*len(vs))
	for i, v := range vs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, digits[v>>12], digits[v>>8&0xf], digits[v>>4&0xf], digits[v&0xf])
	}
	return string(b)
}

func hash12(s string) string {
	if s == "" {
		return "000000000000"
	}
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])[:12]
}
