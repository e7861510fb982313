package dnsmsg_test

import (
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/miekg/dns"

	"github.com/flowscope-go/flowscope"
	"github.com/flowscope-go/flowscope/parsers/dnsmsg"
)

func query(id uint16, name string, t uint16) []byte {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), t)
	m.Id = id
	b, _ := m.Pack()
	return b
}

func answer(q []byte, rcode int, ips ...string) []byte {
	var req dns.Msg
	_ = req.Unpack(q)
	m := new(dns.Msg)
	m.SetReply(&req)
	m.Rcode = rcode
	for _, ip := range ips {
		rr, _ := dns.NewRR(req.Question[0].Name + " 300 IN A " + ip)
		m.Answer = append(m.Answer, rr)
	}
	b, _ := m.Pack()
	return b
}

func udpRec(port uint16) *flowscope.Conn {
	return &flowscope.Conn{Resp: netip.AddrPortFrom(netip.IPv4Unspecified(), port)}
}

func TestUDPPairing(t *testing.T) {
	p := dnsmsg.Parser{}.NewDatagram(udpRec(53))
	q1, q2 := query(1, "example.com", dns.TypeA), query(2, "example.org", dns.TypeAAAA)
	var out []*dnsmsg.Transaction
	out = p.Datagram(flowscope.Orig, q1, 1e9, out)
	out = p.Datagram(flowscope.Orig, q2, 1e9+1, out)
	out = p.Datagram(flowscope.Resp, answer(q1, dns.RcodeSuccess, "192.0.2.1", "192.0.2.2"), 1e9+5e6, out)
	out = p.Datagram(flowscope.Resp, answer(query(9, "stray.test", dns.TypeA), dns.RcodeNameError), 2e9, out)
	out = p.End(nil, out)
	if len(out) != 3 {
		t.Fatalf("%d transactions, want 3", len(out))
	}
	a := out[0]
	if a.Query.Question.Name != "example.com" || a.Response == nil || len(a.Response.Answers) != 2 ||
		a.Response.Answers[0] != "192.0.2.1" || a.Response.TTLs[0] != 300 || a.RTT() != 5e6 {
		t.Errorf("first transaction: %+v / %+v", a.Query, a.Response)
	}
	if s := out[1]; s.Query != nil || s.Response.Rcode != dns.RcodeNameError {
		t.Errorf("stray response: %+v", s)
	}
	if u := out[2]; u.Response != nil || u.Query.Question.Type != dns.TypeAAAA {
		t.Errorf("unanswered query: %+v", u)
	}
}

func TestUDPTimeout(t *testing.T) {
	p := dnsmsg.Parser{Timeout: 1e9}.NewDatagram(udpRec(53))
	out := p.Datagram(flowscope.Orig, query(1, "a.test", dns.TypeA), 0, nil)
	out = p.Datagram(flowscope.Orig, query(2, "b.test", dns.TypeA), 3e9, out)
	if len(out) != 1 || out[0].Query.ID != 1 || out[0].Response != nil {
		t.Fatalf("after the timeout got %d transactions, want the first query unanswered", len(out))
	}
}

func TestTCPFraming(t *testing.T) {
	p := dnsmsg.Parser{}.NewSession(udpRec(53))
	var stream []byte
	var resps []byte
	for i := range 20 {
		q := query(uint16(i), "many.test", dns.TypeA)
		stream = binary.BigEndian.AppendUint16(stream, uint16(len(q)))
		stream = append(stream, q...)
		r := answer(q, dns.RcodeSuccess, "192.0.2.9")
		resps = binary.BigEndian.AppendUint16(resps, uint16(len(r)))
		resps = append(resps, r...)
	}
	var out []*dnsmsg.Transaction
	out = p.Data(flowscope.Orig, stream, 0, out) // 20 queries in one segment
	for i := 0; i < len(resps); i += 7 {         // responses split across segments
		out = p.Data(flowscope.Resp, resps[i:min(i+7, len(resps))], 1, out)
	}
	out = p.End(nil, out)
	if len(out) != 20 {
		t.Fatalf("%d transactions, want 20", len(out))
	}
	for _, tx := range out {
		if tx.Query == nil || tx.Response == nil || tx.Transport != "tcp" {
			t.Fatalf("unpaired: %+v", tx)
		}
	}
}

func TestMalformed(t *testing.T) {
	// A compression pointer that points at itself.
	loop := []byte{0, 7, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1}
	m, err := dnsmsg.Decode(loop, 0)
	if err != nil || m.Malformed == "" || m.ID != 7 || !m.Response {
		t.Fatalf("Decode = %+v, %v; want a marked message with its header", m, err)
	}
	if _, err := dnsmsg.Decode([]byte{1, 2, 3}, 0); err == nil {
		t.Fatal("a 3-byte message decoded")
	}
}

func TestNotDNSOffPort(t *testing.T) {
	p := dnsmsg.Parser{}.NewDatagram(udpRec(4000))
	p.Datagram(flowscope.Orig, []byte("hello, this is not dns at all"), 0, nil)
	if !p.(flowscope.Doner).Done() {
		t.Error("junk on port 4000 was taken for DNS")
	}
	p = dnsmsg.Parser{}.NewDatagram(udpRec(4000))
	if out := p.Datagram(flowscope.Orig, query(3, "odd.port.test", dns.TypeA), 0, nil); len(p.End(nil, out)) != 1 {
		t.Error("DNS on port 4000 was not found by content")
	}
}

// TestTCPNotDNSOffPortEarly: off the DNS ports a TCP stream whose first
// bytes cannot be a DNS header is given up at once, not after buffering
// as many bytes as its first two bytes promise ("GE" promises 18,245).
func TestTCPNotDNSOffPortEarly(t *testing.T) {
	for _, start := range []string{"GET / HTTP/1.1\r\nHost: x\r\n", "HTTP/1.1 200 OK\r\n", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\x00\x00\x00"} {
		p := dnsmsg.Parser{}.NewSession(udpRec(8080))
		p.Data(flowscope.Orig, []byte(start), 0, nil)
		if !p.(flowscope.Doner).Done() {
			t.Errorf("%q on port 8080 is still taken for possible DNS", start)
		}
	}
	// DNS over TCP off port 53 is still found, even one byte at a time.
	q := query(9, "tcp.odd.port.test", dns.TypeA)
	msg := append([]byte{0, byte(len(q))}, q...)
	p := dnsmsg.Parser{}.NewSession(udpRec(8053))
	var out []*dnsmsg.Transaction
	for i := range msg {
		out = p.Data(flowscope.Orig, msg[i:i+1], 0, out)
	}
	if out = p.End(nil, out); len(out) != 1 {
		t.Errorf("%d transactions from DNS over TCP on port 8053 fed a byte at a time, want 1", len(out))
	}
}

// TestQuestionCutShort: a message that ends after its question's name,
// or inside its type or class, is marked malformed (miekg/dns takes it
// as a question of type and class 0).
func TestQuestionCutShort(t *testing.T) {
	whole := []byte("\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x03www\x07example\x03com\x00\x00\x01\x00\x01")
	for _, cut := range []int{0, 1, 2, 3} { // bytes of type and class kept
		b := whole[:len(whole)-4+cut]
		m, err := dnsmsg.Decode(b, 0)
		if err != nil {
			t.Fatalf("cut %d: %v", cut, err)
		}
		if m.Malformed == "" {
			t.Errorf("%d bytes of type and class: not marked malformed (question %+v)", cut, m.Question)
		}
	}
	if m, _ := dnsmsg.Decode(whole, 0); m.Malformed != "" {
		t.Errorf("the whole message is marked %q", m.Malformed)
	}
}

// TestTCPResyncAfterGap: a gap inside a message of either side loses
// that message, not the side: the next length prefix whose message
// decodes and fits (a query; an answer to a waiting query) is found, and
// the messages after it are read.
func TestTCPResyncAfterGap(t *testing.T) {
	framed := func(b []byte) []byte { return append(binary.BigEndian.AppendUint16(nil, uint16(len(b))), b...) }
	var qs, rs [][]byte
	for i := range 6 {
		q := query(uint16(100+i), "resync.test", dns.TypeA)
		qs, rs = append(qs, framed(q)), append(rs, framed(answer(q, dns.RcodeSuccess, "192.0.2.1")))
	}
	for _, c := range []struct {
		name string
		side flowscope.Side
	}{{"client", flowscope.Orig}, {"server", flowscope.Resp}} {
		t.Run(c.name, func(t *testing.T) {
			p := dnsmsg.Parser{}.NewSession(udpRec(53))
			var out []*dnsmsg.Transaction
			feed := func(side flowscope.Side, msgs [][]byte, i int) {
				if side != c.side || i != 2 {
					out = p.Data(side, msgs[i], int64(i), out)
					return
				}
				// Message 2 of the side: its first 9 bytes and last 5
				// come, the rest is a gap, and message 3 comes in the same
				// segment as the tail, a byte at a time.
				m := msgs[2]
				out = p.Data(side, m[:9], 2, out)
				out = p.Gap(side, uint64(len(m)-14), 2, out)
				for _, b := range append(append([]byte(nil), m[len(m)-5:]...), msgs[3]...) {
					out = p.Data(side, []byte{b}, 3, out)
				}
			}
			for i := range 6 {
				if c.side == flowscope.Orig && i == 3 {
					continue // fed with message 2
				}
				feed(flowscope.Orig, qs, i)
			}
			for i := range 6 {
				if c.side == flowscope.Resp && i == 3 {
					continue
				}
				feed(flowscope.Resp, rs, i)
			}
			out = p.End(nil, out)
			paired := map[uint16]bool{}
			for _, tx := range out {
				if tx.Query != nil && tx.Response != nil {
					paired[tx.Query.ID] = true
				}
			}
			for i := range 6 {
				if want := i != 2; paired[uint16(100+i)] != want {
					t.Errorf("query %d paired %v, want %v (%d transactions)", i, paired[uint16(100+i)], want, len(out))
				}
			}
		})
	}
}
