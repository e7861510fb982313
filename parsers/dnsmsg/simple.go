package dnsmsg

import (
	"encoding/binary"
	"net/netip"
	"strconv"
)

// fastDecode turns decodeSimple on; tests turn it off to compare.
var fastDecode = true

// decodeSimple reads the question and answers of the messages most
// traffic is made of, without miekg/dns: one question, answers of type A,
// AAAA, CNAME, PTR, NS, MX or TXT (plain text), no authority records, at most an EDNS record
// without options, names of plain labels. Decoding those with miekg/dns
// (every record unpacked into its own value, then printed) was most of
// the cost of DNS. It fills m and reports true only when it read the
// whole message and miekg/dns would have read it alike (a test compares
// the two on every message it takes); anything else is left to
// miekg/dns, m untouched.
func decodeSimple(b []byte, m *Message, q *Question) bool {
	if m.QDCount != 1 || m.NSCount != 0 || m.ARCount > 1 || m.ANCount > 64 {
		return false
	}
	// The question's name and every answer's text go into one buffer,
	// made into one string at the end: one allocation a message instead
	// of one per name.
	var textBuf [512]byte
	var ends [64]uint16
	text, off, ok := readName(b, 12, textBuf[:0])
	if !ok || off+4 > len(b) {
		return false
	}
	text = text[:len(text)-1] // no final dot; the root, ".", is ""
	qEnd := len(text)
	q.Type, q.Class = binary.BigEndian.Uint16(b[off:]), binary.BigEndian.Uint16(b[off+2:])
	off += 4
	var ttls []uint32
	if m.ANCount > 0 {
		ttls = make([]uint32, 0, m.ANCount)
	}
	var skip [256]byte
	for i := range m.ANCount {
		var typ, rdlen int
		var ttl uint32
		if _, off, ok = readName(b, off, skip[:0]); !ok || off+10 > len(b) {
			return false
		}
		typ, ttl, rdlen = int(binary.BigEndian.Uint16(b[off:])), binary.BigEndian.Uint32(b[off+4:]), int(binary.BigEndian.Uint16(b[off+8:]))
		off += 10
		end := off + rdlen
		if end > len(b) {
			return false
		}
		// miekg/dns reads a record's data with the message cut at its
		// end, so a name there may not point past it: b[:end] below.
		switch typ {
		case 1: // A
			if rdlen != 4 {
				return false
			}
			text = netip.AddrFrom4([4]byte(b[off:end])).AppendTo(text)
		case 28: // AAAA
			if rdlen != 16 {
				return false
			}
			text = netip.AddrFrom16([16]byte(b[off:end])).AppendTo(text)
		case 2, 5, 12: // NS, CNAME, PTR
			var next int
			text, next, ok = readName(b[:end], off, text)
			if !ok || next != end {
				return false
			}
		case 15: // MX: preference, exchange
			if rdlen < 3 {
				return false
			}
			text = strconv.AppendUint(text, uint64(binary.BigEndian.Uint16(b[off:])), 10)
			text = append(text, ' ')
			var next int
			text, next, ok = readName(b[:end], off+2, text)
			if !ok || next != end {
				return false
			}
		case 16: // TXT: quoted strings, plain characters only
			if text, ok = appendTXT(text, b[off:end]); !ok {
				return false
			}
		default:
			return false
		}
		ends[i] = uint16(len(text))
		ttls = append(ttls, ttl)
		off = end
	}
	if m.ARCount == 1 {
		// An EDNS record without options: the root name, type OPT, no data.
		if off+11 > len(b) || b[off] != 0 || binary.BigEndian.Uint16(b[off+1:]) != 41 || binary.BigEndian.Uint16(b[off+9:]) != 0 {
			return false
		}
		off += 11
	}
	if off != len(b) {
		return false // trailing bytes: left to miekg/dns's judgement
	}
	all := string(text)
	q.Name = all[:qEnd]
	var answers []string
	if m.ANCount > 0 {
		answers = make([]string, m.ANCount)
		start := qEnd
		for i := range answers {
			answers[i] = all[start:ends[i]]
			start = int(ends[i])
		}
	}
	m.Question, m.Answers, m.TTLs = q, answers, ttls
	return true
}

// appendTXT appends TXT record data as miekg/dns prints it, each
// character-string quoted, separated by spaces, when none holds a byte it
// would escape (a quote, a backslash, anything outside printable ASCII).
func appendTXT(text, rdata []byte) ([]byte, bool) {
	if len(rdata) == 0 {
		return text, false
	}
	for i := 0; len(rdata) > 0; i++ {
		l := int(rdata[0])
		if 1+l > len(rdata) {
			return text, false
		}
		if i > 0 {
			text = append(text, ' ')
		}
		text = append(text, '"')
		for _, c := range rdata[1 : 1+l] {
			if c < ' ' || c > '~' || c == '"' || c == '\\' {
				return text, false
			}
		}
		text = append(text, rdata[1:1+l]...)
		text = append(text, '"')
		rdata = rdata[1+l:]
	}
	return text, true
}

// readName appends the name at off in b to dst in presentation form
// ("www.example.com.", "." for the root), following compression pointers,
// and returns the offset after the name where it started. It gives up
// (false) on anything miekg/dns would print or judge differently: labels
// with characters it escapes, extended label types, long names, long
// pointer chains.
func readName(b []byte, off int, dst []byte) ([]byte, int, bool) {
	start, next, hops, wire := len(dst), -1, 0, 0
	for {
		if off >= len(b) {
			return nil, 0, false
		}
		l := int(b[off])
		switch l & 0xc0 {
		case 0:
			if l == 0 {
				if next < 0 {
					next = off + 1
				}
				if len(dst) == start {
					dst = append(dst, '.')
				}
				return dst, next, true
			}
			if off+1+l > len(b) {
				return nil, 0, false
			}
			if wire += l + 1; wire > 250 {
				return nil, 0, false
			}
			label := b[off+1 : off+1+l]
			if !plainLabel(label) {
				return nil, 0, false
			}
			dst = append(append(dst, label...), '.')
			off += 1 + l
		case 0xc0:
			if off+2 > len(b) {
				return nil, 0, false
			}
			if next < 0 {
				next = off + 2
			}
			if hops++; hops > 16 {
				return nil, 0, false
			}
			off = int(binary.BigEndian.Uint16(b[off:]) & 0x3fff)
		default:
			return nil, 0, false
		}
	}
}

// plainLabel reports whether a label prints as it is.
func plainLabel(b []byte) bool {
	for _, c := range b {
		if !plainByte(c) {
			return false
		}
	}
	return true
}
