package tlshello

import (
	"encoding/hex"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// attr is one attribute of a distinguished name: its type's OID and its
// value, both as DER content bytes, the value's string tag, and x when
// the type is one of the named 2.5.4.x (0 otherwise).
type attr struct {
	oid, value []byte
	tag, arc   byte
}

// The attribute types crypto/x509 gives names to (2.5.4.x), in the order
// its Name.String writes them, and the attributes it collects per type.
var namedAttrs = [...]struct {
	arc   byte
	name  string
	multi bool // all values, joined by '+'; else the last one alone, if not empty
}{
	{5, "SERIALNUMBER", false},
	{3, "CN", false},
	{11, "OU", true},
	{10, "O", true},
	{17, "POSTALCODE", true},
	{9, "STREET", true},
	{7, "L", true},
	{8, "ST", true},
	{6, "C", true},
}

// namedArc returns x when oid is 2.5.4.x for one of the named types.
func namedArc(oid []byte) (byte, bool) {
	if len(oid) != 3 || oid[0] != 0x55 || oid[1] != 0x04 {
		return 0, false
	}
	switch oid[2] {
	case 3, 5, 6, 7, 8, 9, 10, 11, 17:
		return oid[2], true
	}
	return 0, false
}

// appendName appends the string form of a DER Name (the content of its
// RDNSequence) to b, as crypto/x509's Name.String writes it: the named
// types first, serial number, common name, organizational unit,
// organization, postal code, street, locality, province, country, each
// type's values joined by '+'; then the other attributes in reverse
// order as OID=#hex of their DER value; all joined by ','.
func appendName(b, rdns []byte) ([]byte, error) {
	var stack [24]attr
	attrs := stack[:0]
	for len(rdns) > 0 {
		set, ok := expect(&rdns, tagSet)
		if !ok {
			return b, errCertName
		}
		for len(set) > 0 {
			atv, ok := expect(&set, tagSequence)
			if !ok {
				return b, errCertName
			}
			oid, ok := expect(&atv, tagOID)
			if !ok || !validOID(oid) {
				return b, errCertName
			}
			tag, value, ok := readTag(&atv)
			if !ok {
				return b, errCertName
			}
			if err := checkString(tag, value); err != nil {
				return b, err
			}
			arc, _ := namedArc(oid)
			attrs = append(attrs, attr{oid: oid, value: value, tag: tag, arc: arc})
		}
	}
	var scratch [256]byte
	first := true
	sep := func() {
		if !first {
			b = append(b, ',')
		}
		first = false
	}
	for _, na := range namedAttrs {
		if !na.multi {
			last := -1
			for i := range attrs {
				if attrs[i].arc == na.arc {
					last = i
				}
			}
			if last < 0 {
				continue
			}
			v := appendString(scratch[:0], attrs[last].tag, attrs[last].value)
			if len(v) == 0 {
				continue
			}
			sep()
			b = append(b, na.name...)
			b = append(b, '=')
			b = appendEscaped(b, v)
			continue
		}
		n := 0
		for i := range attrs {
			if attrs[i].arc != na.arc {
				continue
			}
			if n == 0 {
				sep()
			} else {
				b = append(b, '+')
			}
			n++
			b = append(b, na.name...)
			b = append(b, '=')
			b = appendEscaped(b, appendString(scratch[:0], attrs[i].tag, attrs[i].value))
		}
	}
	for i := len(attrs) - 1; i >= 0; i-- {
		a := &attrs[i]
		if a.arc != 0 {
			continue
		}
		sep()
		b = appendOID(b, a.oid)
		b = append(b, "=#"...)
		b = appendDERStringHex(b, appendString(scratch[:0], a.tag, a.value))
	}
	return b, nil
}

// checkString reports whether value is a valid string of the given tag,
// by crypto/x509's rules.
func checkString(tag byte, value []byte) error {
	switch tag {
	case tagT61String:
		return nil
	case tagPrintableString:
		for _, c := range value {
			if !printable(c) && c != '*' && c != '&' {
				return errCertStrValue
			}
		}
	case tagUTF8String:
		if !utf8.Valid(value) {
			return errCertStrValue
		}
	case tagBMPString:
		if len(value)%2 != 0 {
			return errCertStrValue
		}
		for _, u := range bmpUnits(value) {
			if u == 0xfffe || u == 0xffff || u >= 0xfdd0 && u <= 0xfdef || u >= 0xd800 && u <= 0xdfff {
				return errCertStrValue
			}
		}
	case tagIA5String:
		for _, c := range value {
			if c >= utf8.RuneSelf {
				return errCertStrValue
			}
		}
	case tagNumericString:
		for _, c := range value {
			if (c < '0' || c > '9') && c != ' ' {
				return errCertStrValue
			}
		}
	default:
		return errCertStrType
	}
	return nil
}

// bmpUnits returns a BMPString's UTF-16 code units without the
// terminating zero some encoders add.
func bmpUnits(value []byte) []uint16 {
	if l := len(value); l >= 2 && value[l-1] == 0 && value[l-2] == 0 {
		value = value[:l-2]
	}
	units := make([]uint16, 0, len(value)/2)
	for i := 0; i+1 < len(value); i += 2 {
		units = append(units, uint16(value[i])<<8|uint16(value[i+1]))
	}
	return units
}

// appendString appends a checked string value as UTF-8: T61String is
// read as Latin-1, BMPString as UTF-16, the others as they are.
func appendString(b []byte, tag byte, value []byte) []byte {
	switch tag {
	case tagT61String:
		for _, c := range value {
			b = utf8.AppendRune(b, rune(c))
		}
		return b
	case tagBMPString:
		for _, r := range utf16.Decode(bmpUnits(value)) {
			b = utf8.AppendRune(b, r)
		}
		return b
	}
	return append(b, value...)
}

// appendEscaped appends v escaped the way crypto/x509's
// RDNSequence.String escapes values.
func appendEscaped(b, v []byte) []byte {
	for k, c := range v {
		escape := false
		switch c {
		case ',', '+', '"', '\\', '<', '>', ';':
			escape = true
		case ' ':
			escape = k == 0 || k == len(v)-1
		case '#':
			escape = k == 0 || k == len(v)-1
		}
		if escape {
			b = append(b, '\\')
		}
		b = append(b, c)
	}
	return b
}

// appendDERStringHex appends, in hex, the DER encoding encoding/asn1
// gives the string s: a PrintableString when every byte allows it, else
// a UTF8String.
func appendDERStringHex(b, s []byte) []byte {
	tag := byte(tagPrintableString)
	for _, c := range s {
		if !printable(c) {
			tag = tagUTF8String
			break
		}
	}
	var hdr [6]byte
	h := append(hdr[:0], tag)
	if n := len(s); n < 0x80 {
		h = append(h, byte(n))
	} else {
		k := 0
		for x := n; x > 0; x >>= 8 {
			k++
		}
		h = append(h, 0x80|byte(k))
		for i := k - 1; i >= 0; i-- {
			h = append(h, byte(n>>(8*i)))
		}
	}
	b = hex.AppendEncode(b, h)
	return hex.AppendEncode(b, s)
}

// printable reports whether c may appear in a PrintableString (X.680),
// without the '*' and '&' crypto/x509 tolerates on input.
func printable(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		'\'' <= c && c <= ')' || '+' <= c && c <= '/' ||
		c == ' ' || c == ':' || c == '=' || c == '?'
}

// validOID reports whether oid (DER content) is an object identifier
// crypto/x509 reads: not empty, each arc in at most 5 minimal base-128
// bytes and below 2^31.
func validOID(oid []byte) bool {
	if len(oid) == 0 {
		return false
	}
	for len(oid) > 0 {
		if _, ok := readArc(&oid); !ok {
			return false
		}
	}
	return true
}

// readArc reads one base-128 arc off oid.
func readArc(oid *[]byte) (int, bool) {
	s := *oid
	v := 0
	for i := 0; i < len(s); i++ {
		if i == 5 || v >= 1<<(31-7) || i == 0 && s[i] == 0x80 {
			return 0, false
		}
		v = v<<7 | int(s[i]&0x7f)
		if s[i]&0x80 == 0 {
			*oid = s[i+1:]
			return v, true
		}
	}
	return 0, false
}

// appendOID appends a valid oid in dotted decimal.
func appendOID(b, oid []byte) []byte {
	v, _ := readArc(&oid)
	first, second := v/40, v%40
	if v >= 80 {
		first, second = 2, v-80
	}
	b = strconv.AppendInt(b, int64(first), 10)
	b = append(b, '.')
	b = strconv.AppendInt(b, int64(second), 10)
	for len(oid) > 0 {
		v, _ = readArc(&oid)
		b = append(b, '.')
		b = strconv.AppendInt(b, int64(v), 10)
	}
	return b
}
