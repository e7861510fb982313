// Package dnsmsg parses DNS over UDP and over TCP into transactions: a
// query paired with its response, as Zeek's dns.log has them. Message
// decoding is github.com/miekg/dns's; this package adds what captured
// traffic needs: finding DNS by content on any port, TCP's length-prefixed
// framing across segments, pairing by transaction id and question with the
// round-trip time, queries that are never answered, responses seen
// without their query, and malformed messages (counted and marked, never
// fatal).
//
// Parser{} is both a flowscope.DatagramFactory and a
// flowscope.SessionFactory of *Transaction.
package dnsmsg

import (
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/miekg/dns"

	"github.com/flowscope-go/flowscope"
)

// Defaults of Parser.
const (
	// DefaultTimeout is how long a query waits for its response, in
	// packet time, before it is reported unanswered. Zeek uses the same.
	DefaultTimeout = int64(10e9)
	// maxPending bounds the queries one flow keeps waiting.
	maxPending = 1024
)

// Parser makes DNS parsers. The zero Parser uses the defaults.
type Parser struct {
	// Timeout is how long, in Unix nanoseconds of packet time, a query
	// waits for its response. Zero means 10 seconds.
	Timeout int64
}

// Question is the first question of a message.
type Question struct {
	Name        string // without the trailing dot; "" for the root
	Type, Class uint16
}

// Message is one DNS message.
type Message struct {
	ID                        uint16
	Response                  bool
	Opcode                    int
	Rcode                     int // the 4-bit header code
	AA, TC, RD, RA            bool
	Z                         uint8
	QDCount, ANCount, NSCount uint16
	ARCount                   uint16
	Question                  *Question
	// Answers holds the answer section's records as text (rdata only);
	// TTLs their TTLs, in seconds.
	Answers []string
	TTLs    []uint32
	// Malformed says what was wrong when the message could not be decoded
	// whole; the header and question are still filled when they could be.
	Malformed string
	Time      int64 // capture time, Unix ns
}

// Transaction is a query and its response; either may be nil (a query
// never answered, a response whose query was not seen).
type Transaction struct {
	// Conn is the flow the transaction was seen on.
	Conn      *flowscope.Conn
	Transport string // "udp" or "tcp"
	Query     *Message
	Response  *Message
}

// RTT returns the time from query to response, 0 when either is missing.
func (t *Transaction) RTT() int64 {
	if t.Query == nil || t.Response == nil {
		return 0
	}
	return max(t.Response.Time-t.Query.Time, 0)
}

// Decode parses one DNS message. A message that miekg/dns cannot decode
// whole still gives its header and, if it can be read, its question, with
// Malformed saying why; an error is returned only when not even the
// 12-byte header is there.
func Decode(b []byte, ts int64) (*Message, error) {
	if len(b) < 12 {
		return nil, errors.New("dns: message shorter than its 12-byte header")
	}
	// The message and its question in one allocation.
	mq := &struct {
		m Message
		q Question
	}{m: Message{Time: ts}}
	m := &mq.m
	flags := binary.BigEndian.Uint16(b[2:4])
	m.ID = binary.BigEndian.Uint16(b[0:2])
	m.Response = flags&0x8000 != 0
	m.Opcode = int(flags>>11) & 0xf
	m.AA, m.TC, m.RD, m.RA = flags&0x0400 != 0, flags&0x0200 != 0, flags&0x0100 != 0, flags&0x0080 != 0
	m.Z = uint8(flags>>4) & 0x7
	m.Rcode = int(flags & 0xf)
	m.QDCount = binary.BigEndian.Uint16(b[4:6])
	m.ANCount = binary.BigEndian.Uint16(b[6:8])
	m.NSCount = binary.BigEndian.Uint16(b[8:10])
	m.ARCount = binary.BigEndian.Uint16(b[10:12])

	if fastDecode && decodeSimple(b, m, &mq.q) {
		return m, nil
	}
	var msg dns.Msg
	if err := msg.Unpack(b); err != nil {
		m.Malformed = err.Error()
		if m.QDCount > 0 {
			if name, off, err := dns.UnpackDomainName(b, 12); err == nil && off+4 <= len(b) {
				mq.q = Question{Name: trimDot(name), Type: binary.BigEndian.Uint16(b[off:]), Class: binary.BigEndian.Uint16(b[off+2:])}
				m.Question = &mq.q
			}
		}
		return m, nil
	}
	if len(msg.Question) > 0 {
		q := msg.Question[0]
		mq.q = Question{Name: trimDot(q.Name), Type: q.Qtype, Class: q.Qclass}
		m.Question = &mq.q
	}
	for _, rr := range msg.Answer {
		h := rr.Header()
		m.Answers = append(m.Answers, answerText(rr))
		m.TTLs = append(m.TTLs, h.Ttl)
	}
	if len(msg.Question) != int(m.QDCount) || len(msg.Answer) != int(m.ANCount) ||
		len(msg.Ns) != int(m.NSCount) || len(msg.Extra) != int(m.ARCount) {
		// The decoder is lenient with counts that promise more records
		// than the message holds: such a message is marked all the same.
		m.Malformed = "section counts disagree with the header"
	}
	if m.QDCount > 0 && questionCut(b) {
		// The decoder also takes a question that the message ends in,
		// after its name or inside its type or class, as one of type
		// and class 0.
		m.Malformed = "question cut short"
	}
	return m, nil
}

// questionCut reports whether the message ends inside its first
// question: after the name, or before the type and class are whole.
func questionCut(b []byte) bool {
	_, off, err := dns.UnpackDomainName(b, 12)
	return err == nil && off+4 > len(b)
}

// answerText returns an answer's data as miekg/dns prints it after the
// record's header. The common types are printed here directly: printing
// the whole record and cutting its header off cost more than decoding.
func answerText(rr dns.RR) string {
	switch r := rr.(type) {
	case *dns.A:
		if ip4 := r.A.To4(); ip4 != nil {
			return netip.AddrFrom4([4]byte(ip4)).String()
		}
	case *dns.AAAA:
		if len(r.AAAA) == net.IPv6len && r.AAAA.To4() == nil {
			return netip.AddrFrom16([16]byte(r.AAAA)).String()
		}
	case *dns.CNAME:
		if plainName(r.Target) {
			return r.Target
		}
	case *dns.PTR:
		if plainName(r.Ptr) {
			return r.Ptr
		}
	case *dns.NS:
		if plainName(r.Ns) {
			return r.Ns
		}
	}
	return strings.TrimPrefix(rr.String(), rr.Header().String())
}

// plainName reports whether a domain name prints as it is: labels of
// plain characters (see plainByte) and dots.
func plainName(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c != '.' && !plainByte(c) {
			return false
		}
	}
	return true
}

// plainByte reports whether miekg/dns prints a label byte as it is:
// letters, digits, hyphens and underscores (it escapes the rest).
func plainByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_'
}

func trimDot(name string) string {
	if name == "." {
		return ""
	}
	return strings.TrimSuffix(name, ".")
}

// TypeName returns the mnemonic of a query type ("A", "ANY"), or TYPEn.
func TypeName(t uint16) string {
	if s, ok := dns.TypeToString[t]; ok {
		return s
	}
	return "TYPE" + strconv.Itoa(int(t))
}

// ClassName returns the mnemonic of a class ("C_INTERNET" as Zeek names
// IN, then others as miekg/dns names them).
func ClassName(c uint16) string {
	switch c &^ 0x8000 { // the mDNS unicast-response bit
	case dns.ClassINET:
		return "C_INTERNET"
	}
	if s, ok := dns.ClassToString[c]; ok {
		return s
	}
	return "CLASS" + strconv.Itoa(int(c))
}

// RcodeName returns the mnemonic of a response code ("NOERROR").
func RcodeName(r int) string {
	if s, ok := dns.RcodeToString[r]; ok {
		return s
	}
	return "RCODE" + strconv.Itoa(r)
}

// pairing matches responses to queries on one flow. Its methods append
// the transactions they complete to out and return it.
type pairing struct {
	conn    *flowscope.Conn
	timeout int64
	pending []*Transaction // in order of arrival
	tcp     bool
}

func (p *pairing) transport() string {
	if p.tcp {
		return "tcp"
	}
	return "udp"
}

func sameQuestion(a, b *Question) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Type == b.Type && strings.EqualFold(a.Name, b.Name)
}

// add takes one decoded message.
func (p *pairing) add(m *Message, out []*Transaction) []*Transaction {
	out = p.expire(m.Time, out)
	if !m.Response {
		if len(p.pending) >= maxPending {
			out = append(out, p.pending[0])
			p.pending[0] = nil
			p.pending = p.pending[1:]
		}
		p.pending = append(p.pending, &Transaction{Conn: p.conn, Transport: p.transport(), Query: m})
		return out
	}
	match := -1
	for i, tx := range p.pending {
		if tx.Query.ID == m.ID && sameQuestion(tx.Query.Question, m.Question) {
			match = i
			break
		}
	}
	if match < 0 && m.Question != nil {
		// A response whose question differs from its query's (a server
		// that rewrote it): the id alone decides. Without a question (an
		// mDNS announcement) the id says nothing.
		for i, tx := range p.pending {
			if tx.Query.ID == m.ID {
				match = i
				break
			}
		}
	}
	if match < 0 {
		return append(out, &Transaction{Conn: p.conn, Transport: p.transport(), Response: m})
	}
	tx := p.pending[match]
	p.pending = slices.Delete(p.pending, match, match+1) // clears the freed slot
	tx.Response = m
	return append(out, tx)
}

// expire reports queries that waited longer than the timeout: those at
// the front, the oldest, so that a message costs no walk of every query
// waiting (a query stamped earlier than one before it waits until that
// one goes).
func (p *pairing) expire(now int64, out []*Transaction) []*Transaction {
	n := 0
	for n < len(p.pending) && now-p.pending[n].Query.Time > p.timeout {
		out = append(out, p.pending[n])
		n++
	}
	if n > 0 {
		k := copy(p.pending, p.pending[n:])
		clear(p.pending[k:])
		p.pending = p.pending[:k]
	}
	return out
}

func (p *pairing) flush(out []*Transaction) []*Transaction {
	out = append(out, p.pending...)
	p.pending = nil
	return out
}

func (p Parser) pairing(c *flowscope.Conn, tcp bool) pairing {
	t := p.Timeout
	if t <= 0 {
		t = DefaultTimeout
	}
	return pairing{conn: c, timeout: t, tcp: tcp}
}

// wellKnown reports whether a port is one DNS runs on: DNS, mDNS, LLMNR.
func wellKnown(port uint16) bool { return port == 53 || port == 5353 || port == 5355 }

// looksLikeDNS is the content check for other ports: a message that
// decodes whole, with one question and a standard opcode.
// plausibleHeader reports whether a message of n bytes starting with the
// 12-byte header h could pass looksLikeDNS and be a real one: one
// question, a standard query, and fewer than 256 records of each kind.
func plausibleHeader(n int, h []byte) bool {
	return n >= 12+5 && binary.BigEndian.Uint16(h[4:6]) == 1 && h[2]>>3&0x0f == 0 &&
		h[6] == 0 && h[8] == 0 && h[10] == 0
}

func looksLikeDNS(b []byte) bool {
	m, err := Decode(b, 0)
	return err == nil && m.Malformed == "" && m.QDCount == 1 && m.Opcode == 0 && m.Question != nil
}

// datagram is the DNS-over-UDP parser of one flow.
type datagram struct {
	pairing
	checked, poisoned bool
	wellKnown         bool
}

// NewDatagram returns a parser for one UDP flow.
func (p Parser) NewDatagram(c *flowscope.Conn) flowscope.DatagramParser[*Transaction] {
	d := &datagram{pairing: p.pairing(c, false)}
	if c != nil {
		d.wellKnown = wellKnown(c.Orig.Port()) || wellKnown(c.Resp.Port())
	}
	return d
}

// Done reports whether the flow was given up: off the DNS ports, it did
// not look like DNS.
func (d *datagram) Done() bool { return d.poisoned }

// Poisoned reports whether, and why, the flow was given up.
func (d *datagram) Poisoned() (string, bool) {
	if d.poisoned {
		return "not DNS", true
	}
	return "", false
}

func (d *datagram) Datagram(_ flowscope.Side, b []byte, ts int64, out []*Transaction) []*Transaction {
	if d.poisoned {
		return out
	}
	if !d.checked && !d.wellKnown {
		d.checked = true
		if !looksLikeDNS(b) {
			d.poisoned = true
			return out
		}
	}
	d.checked = true
	m, err := Decode(b, ts)
	if err != nil {
		return out
	}
	return d.add(m, out)
}

func (d *datagram) End(_ *flowscope.FlowRecord, out []*Transaction) []*Transaction {
	return d.flush(out)
}

// session is the DNS-over-TCP parser of one connection.
type session struct {
	pairing
	out []*Transaction // during Data
	buf [2][]byte
	// resync says a gap lost the side's framing: its bytes are searched
	// for the next message start, from resyncAt in buf, with tries
	// decodes left (see resyncAfterGap); lost, that the search gave up.
	resync    [2]bool
	lost      [2]bool
	resyncAt  [2]int
	tries     [2]uint16
	checked   bool
	poisoned  bool
	wellKnown bool
}

// NewSession returns a parser for one TCP connection.
func (p Parser) NewSession(c *flowscope.Conn) flowscope.SessionParser[*Transaction] {
	s := &session{pairing: p.pairing(c, true)}
	if c != nil {
		s.wellKnown = wellKnown(c.Orig.Port()) || wellKnown(c.Resp.Port())
	}
	return s
}

// Done reports whether the connection was given up: it was not DNS.
func (s *session) Done() bool { return s.poisoned }

// Poisoned reports whether, and why, the connection was given up.
func (s *session) Poisoned() (string, bool) {
	if s.poisoned {
		return "not DNS over TCP", true
	}
	return "", false
}

func (s *session) Data(side flowscope.Side, b []byte, ts int64, out []*Transaction) []*Transaction {
	if s.poisoned || s.lost[side] {
		return out
	}
	s.out = out
	// The chunk is read where it lies unless a message's start waits in
	// the buffer: most streams are not DNS and are given up on their
	// first bytes, which need no copy for that.
	buf := b
	if len(s.buf[side]) > 0 || s.resync[side] {
		s.buf[side] = append(s.buf[side], b...)
		buf = s.buf[side]
	}
	if s.resync[side] {
		var ok bool
		if buf, ok = s.resyncAfterGap(side, buf, ts); !ok {
			return s.out // no message start found yet
		}
	}
	for len(buf) >= 2 {
		n := int(binary.BigEndian.Uint16(buf))
		if !s.checked && !s.wellKnown {
			// Off the DNS ports the first message decides. Its header
			// alone rules most streams out (one question, a standard
			// query), before a length prefix read from another
			// protocol's bytes makes us buffer up to 64 KiB.
			if len(buf) >= 2+12 && !plausibleHeader(n, buf[2:14]) {
				s.poisoned = true
				s.buf = [2][]byte{}
				return s.out
			}
			if len(buf) < 2+n {
				break
			}
			s.checked = true
			if !looksLikeDNS(buf[2 : 2+n]) {
				s.poisoned = true
				s.buf = [2][]byte{}
				return s.out
			}
		}
		if len(buf) < 2+n {
			break
		}
		s.checked = true
		if m, err := Decode(buf[2:2+n], ts); err == nil {
			s.out = s.add(m, s.out)
		}
		buf = buf[2+n:]
	}
	// Keep the unparsed tail at the front of the buffer (a copy: b is
	// borrowed). When nothing of the buffer was read it is there already:
	// copying it onto itself at every chunk made a message sent a byte at
	// a time cost its length squared.
	if len(buf) != len(s.buf[side]) || len(s.buf[side]) == 0 {
		s.buf[side] = append(s.buf[side][:0], buf...)
	}
	return s.out
}

// maxResync bounds the bytes of a side kept while its next message start
// is searched for after a gap: the largest message and its prefix.
const maxResync = 2 + 65535

// resyncAfterGap searches buf, the side's bytes since a gap, for the
// start of a message that can be trusted: a length prefix whose message
// has a plausible header, decodes whole, and fits (a query from the
// originator; from the responder, the answer to a query waiting). It
// returns the bytes from that start, or false while none is found. Each
// place is looked at once, so the search is linear in the bytes.
func (s *session) resyncAfterGap(side flowscope.Side, buf []byte, ts int64) ([]byte, bool) {
	if len(buf) > 2*maxResync {
		// Keep the last maxResync bytes (moved once per maxResync).
		drop := len(buf) - maxResync
		buf = append(buf[:0], buf[drop:]...)
		s.resyncAt[side] = max(s.resyncAt[side]-drop, 0)
	}
	k := s.resyncAt[side]
	for ; k+2+12 <= len(buf); k++ {
		n := int(binary.BigEndian.Uint16(buf[k:]))
		if !plausibleHeader(n, buf[k+2:k+14]) || (buf[k+4]&0x80 != 0) != (side == flowscope.Resp) {
			continue
		}
		if k+2+n > len(buf) {
			break // the candidate is not whole yet: look again with more bytes
		}
		if s.tries[side]++; s.tries[side] > maxResyncTries {
			// Bytes that keep looking like messages and are not: give
			// the side up rather than decode without end.
			s.resync[side], s.lost[side], s.buf[side] = false, true, nil
			return nil, false
		}
		m, err := Decode(buf[k+2:k+2+n], ts)
		if err != nil || m.Malformed != "" || m.Question == nil || !s.fits(side, m) {
			continue
		}
		s.resync[side], s.resyncAt[side] = false, 0
		return buf[k:], true
	}
	s.resyncAt[side] = k
	s.buf[side] = buf // buf is the side's own buffer: what may still hold a start
	return nil, false
}

// maxResyncTries bounds the candidate messages decoded in the search
// after one gap.
const maxResyncTries = 64

// fits reports whether m can be the next message of side: a query from
// the originator, or from the responder the answer to a query waiting.
func (s *session) fits(side flowscope.Side, m *Message) bool {
	if side == flowscope.Orig {
		return !m.Response
	}
	for _, tx := range s.pending {
		if tx.Query.ID == m.ID && sameQuestion(tx.Query.Question, m.Question) {
			return true
		}
	}
	return false
}

// Gap loses the message framing of a side: what follows is searched for
// the next message start that can be trusted (resyncAfterGap), and the
// messages read on from there.
func (s *session) Gap(side flowscope.Side, _ uint64, _ int64, out []*Transaction) []*Transaction {
	if !s.lost[side] {
		s.resync[side], s.resyncAt[side], s.tries[side] = true, 0, 0
		s.buf[side] = s.buf[side][:0]
	}
	return out
}

func (s *session) End(_ *flowscope.FlowRecord, out []*Transaction) []*Transaction {
	return s.flush(out)
}

var (
	_ flowscope.DatagramFactory[*Transaction] = Parser{}
	_ flowscope.SessionFactory[*Transaction]  = Parser{}
)

// pendingCost is about what a query waiting for its answer holds: its
// transaction, message and question.
const pendingCost = 256

// Held implements flowscope.Holder: the queries waiting for answers.
func (d *datagram) Held() int { return len(d.pending) * pendingCost }

// Held implements flowscope.Holder: the queries waiting for answers and
// the partial messages buffered.
func (s *session) Held() int {
	return len(s.pending)*pendingCost + cap(s.buf[0]) + cap(s.buf[1])
}

var (
	_ flowscope.Holder = (*datagram)(nil)
	_ flowscope.Holder = (*session)(nil)
)
