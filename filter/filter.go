// Package filter compiles capture filter expressions in the language of
// tcpdump and libpcap (pcap-filter(7)) to classic BPF, in pure Go: the
// same program filters live capture in the kernel (see package source)
// and packets read from files, in Match.
//
// The primitives supported are those a capture is usually narrowed with:
// host, net (CIDR, "mask" and abbreviated forms), port, portrange, each
// with src, dst, "src or dst" or "src and dst"; the protocols ip, ip6,
// arp, rarp, tcp, udp, sctp, icmp, icmp6 alone or as qualifiers; "ip
// proto N", "ip6 proto N", "proto N"; "ether host/src/dst MAC"; vlan with
// or without an ID; greater and less; and, or, not (&&, ||, !) and
// parentheses. Semantics follow libpcap's code, checked against the
// programs tcpdump compiles (filter_test.go): and and or have the same
// precedence and associate to the left; an identifier without keywords
// takes the last primitive's ("host a or b"); a bare IPv4 host also
// matches ARP and RARP; port primitives look only at first fragments;
// after vlan, every later primitive looks past the tag. Names are not
// resolved: hosts are IP addresses, ports numbers or a few well-known
// service names. Arithmetic (tcp[13] & 2 != 0) is not supported.
package filter

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/flowscope-go/flowscope/flowkey"
	"golang.org/x/net/bpf"
)

// SnapLen is what the program returns for an accepted packet: the number
// of bytes to keep, libpcap's default.
const SnapLen = 262144

// Filter is a compiled filter expression.
type Filter struct {
	expr string
	link flowkey.LinkType
	prog []bpf.RawInstruction
	vlan bool
}

// Compile compiles expr for packets with the given link type. The empty
// expression accepts every packet. Errors name the expression and the
// word at fault (*SyntaxError), or the primitive the link type cannot
// carry.
func Compile(expr string, link flowkey.LinkType) (*Filter, error) {
	n, err := parse(expr)
	if err != nil {
		return nil, err
	}
	l, err := linkOf(link)
	if err != nil {
		return nil, fmt.Errorf("filter %q: %w", expr, err)
	}
	g := &gen{expr: expr, link: l}
	body := test(always)
	if n != nil {
		if body, err = g.node(n); err != nil {
			return nil, err
		}
	}
	c := &coder{}
	accept, reject := c.newLabel(), c.newLabel()
	body(c, accept, reject)
	c.place(accept)
	c.emit(bpf.RetConstant{Val: SnapLen})
	c.place(reject)
	c.emit(bpf.RetConstant{Val: 0})
	prog, err := c.assemble()
	if err != nil {
		return nil, fmt.Errorf("filter %q: %w", expr, err)
	}
	return &Filter{expr: expr, link: link, prog: prog, vlan: g.vlan}, nil
}

// Program returns the classic BPF program, to attach to a socket.
func (f *Filter) Program() []bpf.RawInstruction { return f.prog }

// String returns the expression.
func (f *Filter) String() string { return f.expr }

// LinkType returns the link type the program was compiled for.
func (f *Filter) LinkType() flowkey.LinkType { return f.link }

// UsesVLAN reports whether the expression has a vlan primitive. Linux
// takes VLAN tags out of packets before a socket filter sees them, so a
// live capture runs such a filter in user space, on packets with their
// tags put back.
func (f *Filter) UsesVLAN() bool { return f.vlan }

// Match runs the program on a packet's captured bytes and reports
// whether it accepts it.
func (f *Filter) Match(data []byte) bool { return run(f.prog, data) != 0 }

// linkInfo says where a link type keeps the network protocol and header.
type linkInfo struct {
	kind    flowkey.LinkType
	etypeAt uint32 // offset of the EtherType, for links that have one
	netAt   uint32 // offset of the network header
}

func linkOf(lt flowkey.LinkType) (linkInfo, error) {
	switch lt {
	case flowkey.LinkEthernet:
		return linkInfo{lt, 12, 14}, nil
	case flowkey.LinkLinuxSLL:
		return linkInfo{lt, 14, 16}, nil
	case flowkey.LinkLinuxSLL2:
		return linkInfo{lt, 0, 20}, nil
	case flowkey.LinkRaw, flowkey.LinkRawOld, flowkey.LinkRawOld2, flowkey.LinkIPv4, flowkey.LinkIPv6:
		return linkInfo{lt, 0, 0}, nil
	case flowkey.LinkNull, flowkey.LinkLoop:
		return linkInfo{lt, 0, 4}, nil
	}
	return linkInfo{}, fmt.Errorf("link type %d is not supported", lt)
}

const (
	etherIPv4 = 0x0800
	etherIPv6 = 0x86dd
	etherARP  = 0x0806
	etherRARP = 0x8035

	ipprotoTCP   = 6
	ipprotoUDP   = 17
	ipprotoSCTP  = 132
	ipprotoICMP  = 1
	ipprotoICMP6 = 58
	ip6Fragment  = 44
)

// gen turns a parsed expression into a test, reading it in order: a vlan
// primitive moves the link offsets of every primitive after it.
type gen struct {
	expr  string
	link  linkInfo
	shift uint32 // bytes of VLAN tags passed
	vlan  bool
}

func (g *gen) fail(off int, format string, args ...any) error {
	return &SyntaxError{g.expr, off, fmt.Sprintf(format, args...)}
}

// pair generates a and b, in that order (a vlan in a moves b's offsets),
// joined by join.
func (g *gen) pair(a, b node, join func(test, test) test) (test, error) {
	ta, err := g.node(a)
	if err != nil {
		return nil, err
	}
	tb, err := g.node(b)
	if err != nil {
		return nil, err
	}
	return join(ta, tb), nil
}

func (g *gen) node(n node) (test, error) {
	switch n := n.(type) {
	case andNode:
		return g.pair(n.a, n.b, and)
	case orNode:
		return g.pair(n.a, n.b, or)
	case notNode:
		a, err := g.node(n.a)
		if err != nil {
			return nil, err
		}
		return not(a), nil
	case protoNode:
		return g.proto(n.proto)
	case ipProtoNode:
		switch n.proto {
		case protoIP:
			return g.ip4Proto(n.n), nil
		case protoIP6:
			return g.ip6Proto(n.n), nil
		}
		return or(g.ip6Proto(n.n), g.ip4Proto(n.n)), nil
	case lenNode:
		cond := bpf.JumpGreaterOrEqual
		if !n.ge {
			cond = bpf.JumpLessOrEqual
		}
		return func(c *coder, t, f label) {
			c.emit(bpf.LoadExtension{Num: bpf.ExtLen})
			c.jump(cond, n.n, t, f)
		}, nil
	case vlanNode:
		return g.vlanTag(n.id)
	case idNode:
		return g.id(n)
	}
	panic(fmt.Sprintf("filter: unknown node %T", n))
}

func (g *gen) net() uint32 { return g.link.netAt + g.shift }

// etype tests the network protocol, an EtherType.
func (g *gen) etype(v uint32) test {
	switch g.link.kind {
	case flowkey.LinkEthernet, flowkey.LinkLinuxSLL, flowkey.LinkLinuxSLL2:
		return cmp(g.link.etypeAt+g.shift, 2, 0, bpf.JumpEqual, v)
	case flowkey.LinkRaw, flowkey.LinkRawOld, flowkey.LinkRawOld2:
		switch v {
		case etherIPv4:
			return cmp(0, 1, 0xf0, bpf.JumpEqual, 0x40)
		case etherIPv6:
			return cmp(0, 1, 0xf0, bpf.JumpEqual, 0x60)
		}
	case flowkey.LinkIPv4:
		if v == etherIPv4 {
			return always
		}
	case flowkey.LinkIPv6:
		if v == etherIPv6 {
			return always
		}
	case flowkey.LinkNull, flowkey.LinkLoop:
		// The address family: in the capturing host's byte order for
		// Null (taken as little-endian, as libpcap does on such hosts),
		// in network order for Loop. IPv6 has three values across BSDs.
		fam := func(v uint32) uint32 {
			if g.link.kind == flowkey.LinkNull {
				return v<<24 | v>>8&0xff0000
			}
			return v
		}
		switch v {
		case etherIPv4:
			return cmp(0, 4, 0, bpf.JumpEqual, fam(2))
		case etherIPv6:
			return or(cmp(0, 4, 0, bpf.JumpEqual, fam(30)), or(cmp(0, 4, 0, bpf.JumpEqual, fam(24)), cmp(0, 4, 0, bpf.JumpEqual, fam(28))))
		}
	}
	return never
}

func (g *gen) proto(p protoQ) (test, error) {
	switch p {
	case protoIP:
		return g.etype(etherIPv4), nil
	case protoIP6:
		return g.etype(etherIPv6), nil
	case protoARP:
		return g.etype(etherARP), nil
	case protoRARP:
		return g.etype(etherRARP), nil
	case protoTCP:
		return or(g.ip6Proto(ipprotoTCP), g.ip4Proto(ipprotoTCP)), nil
	case protoUDP:
		return or(g.ip6Proto(ipprotoUDP), g.ip4Proto(ipprotoUDP)), nil
	case protoSCTP:
		return or(g.ip6Proto(ipprotoSCTP), g.ip4Proto(ipprotoSCTP)), nil
	case protoICMP:
		return g.ip4Proto(ipprotoICMP), nil
	case protoICMP6:
		return g.ip6Proto(ipprotoICMP6), nil
	}
	return nil, fmt.Errorf("filter %q: ether needs host, src or dst and an address", g.expr)
}

func (g *gen) ip4Proto(n uint32) test {
	return and(g.etype(etherIPv4), cmp(g.net()+9, 1, 0, bpf.JumpEqual, n))
}

// ip6Proto checks the next header, or the one after a fragment header.
func (g *gen) ip6Proto(n uint32) test {
	nh := g.net() + 6
	return and(g.etype(etherIPv6), or(cmp(nh, 1, 0, bpf.JumpEqual, n),
		and(cmp(nh, 1, 0, bpf.JumpEqual, ip6Fragment), cmp(g.net()+40, 1, 0, bpf.JumpEqual, n))))
}

func (g *gen) vlanTag(id int) (test, error) {
	if g.link.kind != flowkey.LinkEthernet {
		return nil, fmt.Errorf("filter %q: vlan needs Ethernet frames", g.expr)
	}
	at := g.link.etypeAt + g.shift
	tagged := or(cmp(at, 2, 0, bpf.JumpEqual, 0x8100), or(cmp(at, 2, 0, bpf.JumpEqual, 0x88a8), cmp(at, 2, 0, bpf.JumpEqual, 0x9100)))
	if id >= 0 {
		tagged = and(tagged, cmp(at+2, 2, 0xfff, bpf.JumpEqual, uint32(id)))
	}
	g.shift += 4
	g.vlan = true
	return tagged, nil
}

// dir combines the tests of a source and a destination field.
func dir(d dirQ, src, dst test) test {
	switch d {
	case dirSrc:
		return src
	case dirDst:
		return dst
	case dirSrcAndDst:
		return and(src, dst)
	}
	return or(src, dst)
}

func (g *gen) id(n idNode) (test, error) {
	switch n.q.typ {
	case typePort, typePortRange:
		return g.port(n)
	}
	if n.q.proto == protoEther {
		if n.q.typ != typeHost {
			return nil, g.fail(n.off, "ether takes a host, not a network")
		}
		return g.etherHost(n)
	}
	switch n.q.proto {
	case protoAny, protoIP, protoIP6, protoARP, protoRARP:
	default:
		return nil, g.fail(n.off, "a %s qualifier does not apply to a host or network", protoName(n.q.proto))
	}
	pfx, err := g.prefix(n)
	if err != nil {
		return nil, err
	}
	na := g.net()
	if pfx.Addr().Is6() {
		if n.q.proto != protoAny && n.q.proto != protoIP6 {
			return nil, g.fail(n.off, "an IPv6 address with a %s qualifier", protoName(n.q.proto))
		}
		return and(g.etype(etherIPv6), dir(n.q.dir, addr6(na+8, pfx), addr6(na+24, pfx))), nil
	}
	if n.q.proto == protoIP6 {
		return nil, g.fail(n.off, "an IPv4 address with an ip6 qualifier")
	}
	a4 := pfx.Addr().As4()
	a := uint32(a4[0])<<24 | uint32(a4[1])<<16 | uint32(a4[2])<<8 | uint32(a4[3])
	mask := uint32(0)
	if pfx.Bits() < 32 {
		mask = ^uint32(0) << (32 - pfx.Bits())
		if pfx.Bits() == 0 {
			mask = 0
		}
	}
	word := func(off uint32) test {
		if pfx.Bits() == 0 {
			return always
		}
		return cmp(off, 4, mask, bpf.JumpEqual, a)
	}
	ipPart := and(g.etype(etherIPv4), dir(n.q.dir, word(na+12), word(na+16)))
	arpPart := func(et uint32) test { return and(g.etype(et), dir(n.q.dir, word(na+14), word(na+24))) }
	switch n.q.proto {
	case protoIP:
		return ipPart, nil
	case protoARP:
		return arpPart(etherARP), nil
	case protoRARP:
		return arpPart(etherRARP), nil
	}
	return or(ipPart, or(arpPart(etherARP), arpPart(etherRARP))), nil
}

// addr6 compares the 16 bytes at off with pfx, word by word, skipping
// words outside the prefix.
func addr6(off uint32, pfx netip.Prefix) test {
	b := pfx.Addr().As16()
	var t test
	for w := range 4 {
		bits := min(max(pfx.Bits()-32*w, 0), 32)
		if bits == 0 {
			break
		}
		mask := uint32(0)
		if bits < 32 {
			mask = ^uint32(0) << (32 - bits)
		}
		v := uint32(b[4*w])<<24 | uint32(b[4*w+1])<<16 | uint32(b[4*w+2])<<8 | uint32(b[4*w+3])
		wt := cmp(off+uint32(4*w), 4, mask, bpf.JumpEqual, v)
		if t == nil {
			t = wt
		} else {
			t = and(t, wt)
		}
	}
	if t == nil {
		return always
	}
	return t
}

// prefix reads a host (a full-length prefix) or a network.
func (g *gen) prefix(n idNode) (netip.Prefix, error) {
	if n.q.typ == typeHost {
		a, err := netip.ParseAddr(n.id)
		if err != nil {
			return netip.Prefix{}, g.fail(n.off, "not an IP address (names are not looked up)")
		}
		if a.Zone() != "" {
			return netip.Prefix{}, g.fail(n.off, "an address with a zone")
		}
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	var pfx netip.Prefix
	switch {
	case n.mask != "":
		a, err := netip.ParseAddr(n.id)
		m, merr := netip.ParseAddr(n.mask)
		if err != nil || !a.Is4() {
			return pfx, g.fail(n.off, "not an IPv4 network")
		}
		if merr != nil || !m.Is4() {
			return pfx, g.fail(n.off, "%q is not an IPv4 netmask", n.mask)
		}
		mb := m.As4()
		mv := uint32(mb[0])<<24 | uint32(mb[1])<<16 | uint32(mb[2])<<8 | uint32(mb[3])
		bits := 0
		for bits < 32 && mv&(1<<(31-bits)) != 0 {
			bits++
		}
		if mv<<bits != 0 {
			return pfx, g.fail(n.off, "%q is not a contiguous netmask", n.mask)
		}
		pfx = netip.PrefixFrom(a, bits)
	case strings.Contains(n.id, "/"):
		p, err := netip.ParsePrefix(n.id)
		if err != nil {
			return pfx, g.fail(n.off, "not a network (address/length)")
		}
		pfx = p
	default:
		// An address, or an abbreviated IPv4 network: "10" is 10/8,
		// "192.168" 192.168/16.
		if a, err := netip.ParseAddr(n.id); err == nil {
			pfx = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())
			break
		}
		parts := strings.Split(n.id, ".")
		if len(parts) > 3 {
			return pfx, g.fail(n.off, "not a network")
		}
		var b [4]byte
		for i, s := range parts {
			v, err := strconv.ParseUint(s, 10, 8)
			if err != nil {
				return pfx, g.fail(n.off, "not a network")
			}
			b[i] = byte(v)
		}
		pfx = netip.PrefixFrom(netip.AddrFrom4(b), 8*len(parts))
	}
	if pfx.Masked() != pfx {
		return pfx, g.fail(n.off, "the network has bits set past its length (%s)", pfx.Masked())
	}
	return pfx, nil
}

func (g *gen) etherHost(n idNode) (test, error) {
	if g.link.kind != flowkey.LinkEthernet {
		return nil, g.fail(n.off, "ether addresses need Ethernet frames")
	}
	var mac [6]byte
	parts := strings.FieldsFunc(n.id, func(r rune) bool { return r == ':' || r == '-' || r == '.' })
	if len(parts) != 6 {
		return nil, g.fail(n.off, "not a MAC address")
	}
	for i, s := range parts {
		v, err := strconv.ParseUint(s, 16, 8)
		if err != nil {
			return nil, g.fail(n.off, "not a MAC address")
		}
		mac[i] = byte(v)
	}
	at := func(off uint32) test {
		hi := uint32(mac[0])<<24 | uint32(mac[1])<<16 | uint32(mac[2])<<8 | uint32(mac[3])
		lo := uint32(mac[4])<<8 | uint32(mac[5])
		return and(cmp(off, 4, 0, bpf.JumpEqual, hi), cmp(off+4, 2, 0, bpf.JumpEqual, lo))
	}
	return dir(n.q.dir, at(6), at(0)), nil
}

// Transport bits of a service name.
const (
	svcTCP = 1 << iota
	svcUDP
)

// services are the port names accepted besides numbers, with the
// transports Debian's /etc/services gives them: as in libpcap, a name
// known for one transport only narrows an unqualified port to it.
var services = map[string]struct {
	port   uint32
	protos uint8
}{
	"ftp-data": {20, svcTCP}, "ftp": {21, svcTCP}, "ssh": {22, svcTCP}, "telnet": {23, svcTCP},
	"smtp": {25, svcTCP}, "domain": {53, svcTCP | svcUDP}, "bootps": {67, svcUDP}, "bootpc": {68, svcUDP},
	"tftp": {69, svcUDP}, "http": {80, svcTCP}, "www": {80, svcTCP}, "pop3": {110, svcTCP},
	"ntp": {123, svcUDP}, "imap": {143, svcTCP}, "imap2": {143, svcTCP}, "snmp": {161, svcTCP | svcUDP},
	"ldap": {389, svcTCP | svcUDP}, "https": {443, svcTCP | svcUDP}, "submission": {587, svcTCP},
	"imaps": {993, svcTCP}, "pop3s": {995, svcTCP}, "http-alt": {8080, svcTCP},
}

// portNumber reads a port; for a service name known on one transport
// only, it also returns that transport's qualifier.
func (g *gen) portNumber(s string, off int) (uint32, protoQ, error) {
	if v, ok := services[strings.ToLower(s)]; ok {
		switch v.protos {
		case svcTCP:
			return v.port, protoTCP, nil
		case svcUDP:
			return v.port, protoUDP, nil
		}
		return v.port, protoAny, nil
	}
	v, err := strconv.ParseUint(s, 0, 32)
	if err != nil {
		return 0, protoAny, g.fail(off, "not a port number or known service name")
	}
	if v > 65535 {
		return 0, protoAny, g.fail(off, "port out of range (at most 65535)")
	}
	return uint32(v), protoAny, nil
}

func (g *gen) port(n idNode) (test, error) {
	var lo, hi uint32
	proto := n.q.proto
	// narrow applies what a service name says of its transport.
	narrow := func(p protoQ) error {
		switch {
		case p == protoAny || p == proto:
		case proto == protoAny:
			proto = p
		default:
			return g.fail(n.off, "%q is a %s port, not %s", n.id, protoName(p), protoName(proto))
		}
		return nil
	}
	if n.q.typ == typePortRange {
		a, b, ok := strings.Cut(n.id, "-")
		if !ok {
			return nil, g.fail(n.off, "a port range is written low-high")
		}
		var pa, pb protoQ
		var err error
		if lo, pa, err = g.portNumber(a, n.off); err != nil {
			return nil, err
		}
		if hi, pb, err = g.portNumber(b, n.off); err != nil {
			return nil, err
		}
		if err := narrow(pa); err != nil {
			return nil, err
		}
		if err := narrow(pb); err != nil {
			return nil, err
		}
		if lo > hi {
			lo, hi = hi, lo
		}
	} else {
		var p protoQ
		var err error
		if lo, p, err = g.portNumber(n.id, n.off); err != nil {
			return nil, err
		}
		if err := narrow(p); err != nil {
			return nil, err
		}
		hi = lo
	}
	var protos []uint32
	switch proto {
	case protoAny:
		protos = []uint32{ipprotoSCTP, ipprotoTCP, ipprotoUDP}
	case protoTCP:
		protos = []uint32{ipprotoTCP}
	case protoUDP:
		protos = []uint32{ipprotoUDP}
	case protoSCTP:
		protos = []uint32{ipprotoSCTP}
	default:
		return nil, g.fail(n.off, "a %s qualifier does not apply to a port", protoName(n.q.proto))
	}
	anyOf := func(off uint32) test {
		var t test
		for _, p := range protos {
			c := cmp(off, 1, 0, bpf.JumpEqual, p)
			if t == nil {
				t = c
			} else {
				t = or(t, c)
			}
		}
		return t
	}
	// match tests a port loaded by load at the given offset.
	match := func(field func(cond bpf.JumpTest, v uint32) test) test {
		if lo == hi {
			return field(bpf.JumpEqual, lo)
		}
		return and(field(bpf.JumpGreaterOrEqual, lo), field(bpf.JumpLessOrEqual, hi))
	}
	na := g.net()
	six := and(g.etype(etherIPv6), and(anyOf(na+6), dir(n.q.dir,
		match(func(c bpf.JumpTest, v uint32) test { return cmp(na+40, 2, 0, c, v) }),
		match(func(c bpf.JumpTest, v uint32) test { return cmp(na+42, 2, 0, c, v) }))))
	four := and(g.etype(etherIPv4), and(anyOf(na+9), and(not(jset(na+6, 2, 0x1fff)), dir(n.q.dir,
		match(func(c bpf.JumpTest, v uint32) test { return cmpX(na, 0, 2, c, v) }),
		match(func(c bpf.JumpTest, v uint32) test { return cmpX(na, 2, 2, c, v) })))))
	return or(six, four), nil
}

func protoName(p protoQ) string {
	for name, q := range protoWords {
		if q == p {
			return name
		}
	}
	return "?"
}

// run executes a classic BPF program on pkt and returns what it returns
// (0: reject). It interprets the instructions this package generates
// (absolute, indirect and header-length loads, and, jumps with constant
// operands, returns); Compile never emits others. Loads past the end of
// the packet reject it, as in the kernel.
func run(prog []bpf.RawInstruction, pkt []byte) uint32 {
	var a, x uint32
	n := uint32(len(pkt))
	for pc := 0; pc < len(prog); pc++ {
		in := &prog[pc]
		switch in.Op {
		case opLdW:
			if in.K > n || n-in.K < 4 {
				return 0
			}
			a = uint32(pkt[in.K])<<24 | uint32(pkt[in.K+1])<<16 | uint32(pkt[in.K+2])<<8 | uint32(pkt[in.K+3])
		case opLdH:
			if in.K > n || n-in.K < 2 {
				return 0
			}
			a = uint32(pkt[in.K])<<8 | uint32(pkt[in.K+1])
		case opLdB:
			if in.K >= n {
				return 0
			}
			a = uint32(pkt[in.K])
		case opLdIndH:
			off := x + in.K
			if off < x || off > n || n-off < 2 {
				return 0
			}
			a = uint32(pkt[off])<<8 | uint32(pkt[off+1])
		case opLdxMsh:
			if in.K >= n {
				return 0
			}
			x = 4 * uint32(pkt[in.K]&0xf)
		case opLdLen:
			a = n
		case opAndK:
			a &= in.K
		case opJa:
			pc += int(in.K)
		case opJeqK, opJgtK, opJgeK, opJsetK:
			var ok bool
			switch in.Op {
			case opJeqK:
				ok = a == in.K
			case opJgtK:
				ok = a > in.K
			case opJgeK:
				ok = a >= in.K
			default:
				ok = a&in.K != 0
			}
			if ok {
				pc += int(in.Jt)
			} else {
				pc += int(in.Jf)
			}
		case opRetK:
			return in.K
		default:
			return 0 // not generated by Compile
		}
	}
	return 0
}

// Classic BPF opcodes (linux/bpf_common.h) of the instructions Compile
// emits.
const (
	opLdW    = 0x20 // ld [k]
	opLdH    = 0x28 // ldh [k]
	opLdB    = 0x30 // ldb [k]
	opLdIndH = 0x48 // ldh [x + k]
	opLdxMsh = 0xb1 // ldxb 4*([k]&0xf)
	opLdLen  = 0x80 // ld #len
	opAndK   = 0x54 // and #k
	opJa     = 0x05 // ja k
	opJeqK   = 0x15 // jeq #k
	opJgtK   = 0x25 // jgt #k
	opJgeK   = 0x35 // jge #k
	opJsetK  = 0x45 // jset #k
	opRetK   = 0x06 // ret #k
)
