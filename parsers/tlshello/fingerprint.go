package tlshello

import (
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strconv"
)

// JA3 returns the JA3 string of a ClientHello (version, ciphers,
// extensions, groups, point formats; GREASE values left out) and its MD5.
func (c *ClientHello) JA3() (text, md5hex string) {
	var buf [512]byte
	t := c.appendJA3Text(buf[:0])
	return string(t), string(appendMD5Hex(nil, t))
}

// AppendJA3 appends the JA3 hash (the MD5 of the JA3 string, in hex) to
// dst without allocating, for the common hello.
func (c *ClientHello) AppendJA3(dst []byte) []byte {
	var buf [512]byte
	return appendMD5Hex(dst, c.appendJA3Text(buf[:0]))
}

func (c *ClientHello) appendJA3Text(b []byte) []byte {
	b = strconv.AppendUint(b, uint64(c.Version), 10)
	b = append(b, ',')
	b = appendDecList(b, c.Ciphers)
	b = append(b, ',')
	b = appendDecList(b, c.Extensions)
	b = append(b, ',')
	b = appendDecList(b, c.Groups)
	b = append(b, ',')
	for i, f := range c.PointFormats {
		if i > 0 {
			b = append(b, '-')
		}
		b = strconv.AppendUint(b, uint64(f), 10)
	}
	return b
}

// JA3S returns the JA3S string of a ServerHello (version, cipher,
// extensions) and its MD5.
func (s *ServerHello) JA3S() (text, md5hex string) {
	var buf [256]byte
	t := s.appendJA3SText(buf[:0])
	return string(t), string(appendMD5Hex(nil, t))
}

// AppendJA3S appends the JA3S hash (MD5, in hex) to dst.
func (s *ServerHello) AppendJA3S(dst []byte) []byte {
	var buf [256]byte
	return appendMD5Hex(dst, s.appendJA3SText(buf[:0]))
}

func (s *ServerHello) appendJA3SText(b []byte) []byte {
	b = strconv.AppendUint(b, uint64(s.Version), 10)
	b = append(b, ',')
	b = strconv.AppendUint(b, uint64(s.Cipher), 10)
	b = append(b, ',')
	return appendDecList(b, s.Extensions)
}

func appendMD5Hex(dst, text []byte) []byte {
	sum := md5.Sum(text)
	return hex.AppendEncode(dst, sum[:])
}

// appendDecList appends the non-GREASE values of vs in decimal, joined
// by dashes.
func appendDecList(b []byte, vs []uint16) []byte {
	first := true
	for _, v := range vs {
		if IsGREASE(v) {
			continue
		}
		if !first {
			b = append(b, '-')
		}
		first = false
		b = strconv.AppendUint(b, uint64(v), 10)
	}
	return b
}

// JA4 returns the JA4 TLS client fingerprint of a ClientHello sent over
// TCP, in its hashed form: t13d1516h2_8daaf6152771_e5627efa2ab1.
func (c *ClientHello) JA4() string { return string(c.appendJA4(nil, false)) }

// AppendJA4 appends the JA4 fingerprint to dst, allocating nothing for a
// hello of up to 64 ciphers and 64 extensions.
func (c *ClientHello) AppendJA4(dst []byte) []byte { return c.appendJA4(dst, false) }

// JA4Raw returns JA4 with the sorted lists in place of their hashes.
func (c *ClientHello) JA4Raw() string { return string(c.appendJA4(nil, true)) }

// appendJA4 appends JA4 (raw: with the lists instead of their hashes).
func (c *ClientHello) appendJA4(dst []byte, raw bool) []byte {
	// The highest supported_versions entry, else the hello's version.
	version, found := c.Version, false
	for _, v := range c.Versions {
		if !IsGREASE(v) && (!found || v > version) {
			version, found = v, true
		}
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
	var csBuf, extBuf [64]uint16
	cs := appendNonGREASE(csBuf[:0], c.Ciphers)
	exts := appendNonGREASE(extBuf[:0], c.Extensions)
	dst = append(dst, 't')
	dst = append(dst, vname...)
	dst = append(dst, sni)
	dst = appendTwoDigits(dst, min(len(cs), 99))
	dst = appendTwoDigits(dst, min(len(exts), 99))
	if len(c.ALPN) > 0 && c.ALPN[0] != "" {
		dst = appendALPNChars(dst, c.ALPN[0])
	} else {
		dst = append(dst, "00"...)
	}

	var buf [1024]byte
	slices.Sort(cs)
	list := appendHexList(buf[:0], cs)
	dst = append(dst, '_')
	dst = appendHashed(dst, list, raw)

	// SNI and ALPN are in the first part: the rest are the others.
	rest := exts[:0]
	for _, e := range exts {
		if e != 0x0000 && e != 0x0010 {
			rest = append(rest, e)
		}
	}
	slices.Sort(rest)
	list = appendHexList(buf[:0], rest)
	if len(c.SigAlgs) > 0 {
		list = append(list, '_')
		list = appendHexList(list, c.SigAlgs)
	}
	dst = append(dst, '_')
	return appendHashed(dst, list, raw)
}

// appendHashed appends list, or (raw false) the first 12 hex digits of
// its SHA-256, twelve zeros for an empty list.
func appendHashed(dst, list []byte, raw bool) []byte {
	switch {
	case raw:
		return append(dst, list...)
	case len(list) == 0:
		return append(dst, "000000000000"...)
	}
	sum := sha256.Sum256(list)
	return hex.AppendEncode(dst, sum[:6])
}

func appendNonGREASE(out, vs []uint16) []uint16 {
	for _, v := range vs {
		if !IsGREASE(v) {
			out = append(out, v)
		}
	}
	return out
}

// appendALPNChars appends the first and last character of the first
// ALPN value; "99" when one of them is not ASCII (as the reference
// implementation and its test vectors have it), and the first and last
// hex digits of the value's bytes when one is ASCII but not a letter or
// digit.
func appendALPNChars(dst []byte, v string) []byte {
	first, last := v[0], v[len(v)-1]
	if first > 127 || last > 127 {
		return append(dst, "99"...)
	}
	if isAlnum(first) && isAlnum(last) {
		return append(dst, first, last)
	}
	const digits = "0123456789abcdef"
	return append(dst, digits[first>>4], digits[last&0xf])
}

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

func appendTwoDigits(b []byte, n int) []byte { return append(b, byte('0'+n/10), byte('0'+n%10)) }

// appendHexList appends vs as four-digit lowercase hex numbers joined by
// commas.
func appendHexList(b []byte, vs []uint16) []byte {
	const digits = "0123456789abcdef"
	for i, v := range vs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, digits[v>>12], digits[v>>8&0xf], digits[v>>4&0xf], digits[v&0xf])
	}
	return b
}
