package filter

import (
	"fmt"
	"strings"
)

// A SyntaxError reports where an expression cannot be read.
type SyntaxError struct {
	Expr string
	// Offset is the byte offset in Expr of the word at fault.
	Offset int
	Msg    string
}

func (e *SyntaxError) Error() string {
	if e.Offset >= len(e.Expr) {
		return fmt.Sprintf("filter %q: at the end: %s", e.Expr, e.Msg)
	}
	return fmt.Sprintf("filter %q: at offset %d (%q): %s", e.Expr, e.Offset, wordAt(e.Expr, e.Offset), e.Msg)
}

func wordAt(s string, off int) string {
	end := off + 1
	for end < len(s) && isWordByte(s[end]) && isWordByte(s[off]) {
		end++
	}
	return s[off:end]
}

func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '.' || c == ':' || c == '/' || c == '-' || c == '_'
}

type token struct {
	text string
	off  int
}

func tokenize(expr string) ([]token, error) {
	var toks []token
	for i := 0; i < len(expr); {
		c := expr[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '(' || c == ')' || c == '!':
			toks = append(toks, token{expr[i : i+1], i})
			i++
		case c == '&' || c == '|':
			if i+1 >= len(expr) || expr[i+1] != c {
				return nil, &SyntaxError{expr, i, "a lone " + string(c) + " (write && or ||, or and / or)"}
			}
			toks = append(toks, token{expr[i : i+2], i})
			i += 2
		case isWordByte(c):
			j := i
			for j < len(expr) && isWordByte(expr[j]) {
				j++
			}
			toks = append(toks, token{expr[i:j], i})
			i = j
		default:
			return nil, &SyntaxError{expr, i, fmt.Sprintf("unexpected character %q (arithmetic such as tcp[13] & 2 is not supported)", c)}
		}
	}
	return toks, nil
}

// Qualifiers of a primitive, as in pcap-filter(7).
type protoQ uint8

const (
	protoAny protoQ = iota
	protoIP
	protoIP6
	protoARP
	protoRARP
	protoTCP
	protoUDP
	protoSCTP
	protoICMP
	protoICMP6
	protoEther
)

type dirQ uint8

const (
	dirSrcOrDst dirQ = iota
	dirSrc
	dirDst
	dirSrcAndDst
)

type typeQ uint8

const (
	typeNone typeQ = iota
	typeHost
	typeNet
	typePort
	typePortRange
)

type quals struct {
	proto protoQ
	dir   dirQ
	typ   typeQ
}

var protoWords = map[string]protoQ{
	"ip": protoIP, "ip6": protoIP6, "arp": protoARP, "rarp": protoRARP,
	"tcp": protoTCP, "udp": protoUDP, "sctp": protoSCTP,
	"icmp": protoICMP, "icmp6": protoICMP6, "ether": protoEther,
}

// node is a parsed expression.
type node interface{}

type (
	andNode struct{ a, b node }
	orNode  struct{ a, b node }
	notNode struct{ a node }
	// protoNode: a protocol alone (tcp, ip6, arp ...).
	protoNode struct{ proto protoQ }
	// idNode: a qualified identifier (host 10.0.0.1, dst port 53 ...).
	idNode struct {
		q   quals
		id  string
		off int
		// mask is the text after "mask" in "net A mask M".
		mask string
	}
	// vlanNode matches an 802.1Q/802.1ad tag, with its ID unless id < 0;
	// later primitives look past the tag.
	vlanNode struct{ id int }
	// lenNode: "greater N" (ge) or "less N".
	lenNode struct {
		n  uint32
		ge bool
	}
	// ipProtoNode: "ip proto N", "ip6 proto N", "proto N".
	ipProtoNode struct {
		proto protoQ // protoIP, protoIP6 or protoAny
		n     uint32
	}
)

type parser struct {
	expr string
	toks []token
	pos  int
	// last is the qualifiers of the last primitive, for a bare
	// identifier ("host a or b" is "host a or host b").
	last    quals
	hasLast bool
}

func (p *parser) peek() string {
	if p.pos < len(p.toks) {
		return p.toks[p.pos].text
	}
	return ""
}

func (p *parser) off() int {
	if p.pos < len(p.toks) {
		return p.toks[p.pos].off
	}
	return len(p.expr)
}

func (p *parser) fail(msg string) error { return &SyntaxError{p.expr, p.off(), msg} }

func parse(expr string) (node, error) {
	toks, err := tokenize(expr)
	if err != nil {
		return nil, err
	}
	p := &parser{expr: expr, toks: toks}
	if len(toks) == 0 {
		return nil, nil // the empty expression accepts everything
	}
	n, err := p.expr_()
	if err != nil {
		return nil, err
	}
	if p.pos < len(p.toks) {
		return nil, p.fail("expected and, or or the end")
	}
	return n, nil
}

// expr_ reads alternations and concatenations, which have equal
// precedence and associate left to right (pcap-filter(7)).
func (p *parser) expr_() (node, error) {
	n, err := p.unary()
	if err != nil {
		return nil, err
	}
	for {
		switch strings.ToLower(p.peek()) {
		case "and", "&&":
			p.pos++
			m, err := p.unary()
			if err != nil {
				return nil, err
			}
			n = andNode{n, m}
		case "or", "||":
			p.pos++
			m, err := p.unary()
			if err != nil {
				return nil, err
			}
			n = orNode{n, m}
		default:
			return n, nil
		}
	}
}

func (p *parser) unary() (node, error) {
	switch strings.ToLower(p.peek()) {
	case "not", "!":
		p.pos++
		n, err := p.unary()
		if err != nil {
			return nil, err
		}
		return notNode{n}, nil
	case "(":
		p.pos++
		n, err := p.expr_()
		if err != nil {
			return nil, err
		}
		if p.peek() != ")" {
			return nil, p.fail("expected )")
		}
		p.pos++
		return n, nil
	case "":
		return nil, p.fail("expected a primitive")
	}
	return p.primitive()
}

func (p *parser) number(what string, limit uint64) (uint32, error) {
	w := p.peek()
	var v uint64
	if w == "" {
		return 0, p.fail("expected " + what)
	}
	base := uint64(10)
	digits := w
	if strings.HasPrefix(w, "0x") || strings.HasPrefix(w, "0X") {
		base, digits = 16, w[2:]
	}
	if digits == "" {
		return 0, p.fail("expected " + what)
	}
	for i := 0; i < len(digits); i++ {
		d, ok := digitVal(digits[i], base)
		if !ok {
			return 0, p.fail("expected " + what)
		}
		v = v*base + d
		if v > limit {
			return 0, p.fail(fmt.Sprintf("%s out of range (at most %d)", what, limit))
		}
	}
	p.pos++
	return uint32(v), nil
}

func digitVal(c byte, base uint64) (uint64, bool) {
	var d uint64
	switch {
	case c >= '0' && c <= '9':
		d = uint64(c - '0')
	case c >= 'a' && c <= 'f':
		d = uint64(c-'a') + 10
	case c >= 'A' && c <= 'F':
		d = uint64(c-'A') + 10
	default:
		return 0, false
	}
	return d, d < base
}

func (p *parser) primitive() (node, error) {
	w := strings.ToLower(p.peek())
	switch w {
	case "vlan":
		p.pos++
		id := -1
		if isNumber(p.peek()) {
			n, err := p.number("a VLAN ID", 4095)
			if err != nil {
				return nil, err
			}
			id = int(n)
		}
		return vlanNode{id}, nil
	case "greater", "less":
		p.pos++
		n, err := p.number("a length", 1<<32-1)
		if err != nil {
			return nil, err
		}
		return lenNode{n, w == "greater"}, nil
	case "proto":
		p.pos++
		n, err := p.number("a protocol number", 255)
		if err != nil {
			return nil, err
		}
		return ipProtoNode{protoAny, n}, nil
	}
	var q quals
	start := p.pos
	if pq, ok := protoWords[w]; ok {
		q.proto = pq
		p.pos++
		next := strings.ToLower(p.peek())
		if next == "proto" && (pq == protoIP || pq == protoIP6) {
			p.pos++
			n, err := p.number("a protocol number", 255)
			if err != nil {
				return nil, err
			}
			return ipProtoNode{pq, n}, nil
		}
		if !isQualifier(next) && !isIDStart(p.peek()) {
			return protoNode{pq}, nil
		}
		w = next
	}
	switch w {
	case "src", "dst":
		p.pos++
		q.dir = dirSrc
		if w == "dst" {
			q.dir = dirDst
		}
		switch strings.ToLower(p.peek()) {
		case "or", "and":
			// "src or dst" / "src and dst" as one qualifier; "src or"
			// followed by anything else is an alternation.
			if p.pos+1 < len(p.toks) && strings.ToLower(p.toks[p.pos+1].text) == map[string]string{"src": "dst", "dst": "src"}[w] {
				if strings.ToLower(p.peek()) == "or" {
					q.dir = dirSrcOrDst
				} else {
					q.dir = dirSrcAndDst
				}
				p.pos += 2
			}
		}
		w = strings.ToLower(p.peek())
	}
	switch w {
	case "host":
		q.typ = typeHost
		p.pos++
	case "net":
		q.typ = typeNet
		p.pos++
	case "port":
		q.typ = typePort
		p.pos++
	case "portrange":
		q.typ = typePortRange
		p.pos++
	}
	if p.pos == start {
		// A bare identifier: the last primitive's qualifiers.
		if !p.hasLast {
			if isNumber(p.peek()) || !isIDStart(p.peek()) {
				return nil, p.fail("expected a primitive (host, net, port, portrange, a protocol, vlan ...)")
			}
			q.typ = typeHost
		} else {
			q = p.last
		}
	}
	if q.typ == typeNone {
		q.typ = typeHost
	}
	tok := p.peek()
	if tok == "" || !isIDStart(tok) {
		return nil, p.fail("expected an address, network or port")
	}
	n := idNode{q: q, id: tok, off: p.off()}
	p.pos++
	if q.typ == typeNet && strings.ToLower(p.peek()) == "mask" {
		p.pos++
		if p.peek() == "" || !isIDStart(p.peek()) {
			return nil, p.fail("expected a netmask")
		}
		n.mask = p.peek()
		p.pos++
	}
	p.last, p.hasLast = q, true
	return n, nil
}

func isNumber(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !(s[i] >= '0' && s[i] <= '9' || i == 1 && (s[i] == 'x' || s[i] == 'X') || s[i] >= 'a' && s[i] <= 'f' && strings.HasPrefix(s, "0x")) {
			return false
		}
	}
	return true
}

func isQualifier(w string) bool {
	switch w {
	case "src", "dst", "host", "net", "port", "portrange":
		return true
	}
	return false
}

// isIDStart reports whether a token can be an identifier (an address,
// number or name) rather than an operator or keyword.
func isIDStart(s string) bool {
	if s == "" || !isWordByte(s[0]) {
		return false
	}
	switch strings.ToLower(s) {
	case "and", "or", "not", "src", "dst", "host", "net", "port", "portrange", "mask", "vlan", "proto", "greater", "less":
		return false
	}
	_, isProto := protoWords[strings.ToLower(s)]
	return !isProto
}
