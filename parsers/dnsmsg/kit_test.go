package dnsmsg_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/flowscope-go/flowscope"
	"github.com/flowscope-go/flowscope/flowkey"
	"github.com/flowscope-go/flowscope/parsers/dnsmsg"
	"github.com/flowscope-go/flowscope/parsers/parsertest"
	"github.com/flowscope-go/flowscope/sample"
	"github.com/flowscope-go/flowscope/source"
)

func render(tx *dnsmsg.Transaction) string {
	var b strings.Builder
	for _, m := range []*dnsmsg.Message{tx.Query, tx.Response} {
		if m == nil {
			b.WriteString("- ")
			continue
		}
		fmt.Fprintf(&b, "%d %v rc=%d %+v %v %q | ", m.ID, m.Response, m.Rcode, m.Question, m.Answers, m.Malformed)
	}
	return b.String()
}

// sampleStreams returns the DNS traffic of the embedded capture (dig and
// dnsmasq on loopback): the TCP connection's reassembled streams and the
// UDP payloads.
func sampleStreams(t testing.TB) (tcp []parsertest.Conversation, udp [][]byte) {
	t.Helper()
	src, err := source.NewReader(sample.Name, bytes.NewReader(sample.Capture))
	if err != nil {
		t.Fatal(err)
	}
	tcp, flows := parsertest.Read(t, src, func(c *flowscope.Conn) bool { return c.Proto == flowkey.ProtoUDP || c.Resp.Port() == 53 })
	for _, f := range flows {
		for _, p := range f {
			udp = append(udp, p.Data)
		}
	}
	return tcp, udp
}

func TestParserKitTCP(t *testing.T) {
	tcp, _ := sampleStreams(t)
	if len(tcp) != 1 {
		t.Fatalf("%d DNS-over-TCP connections in the sample, want 1", len(tcp))
	}
	// And one of many messages per segment.
	var qs, rs []byte
	for i := range 10 {
		q := query(uint16(100+i), fmt.Sprintf("n%d.test", i), dns.TypeA)
		qs = binary.BigEndian.AppendUint16(qs, uint16(len(q)))
		qs = append(qs, q...)
		r := answer(q, dns.RcodeSuccess, "192.0.2.1")
		rs = binary.BigEndian.AppendUint16(rs, uint16(len(r)))
		rs = append(rs, r...)
	}
	many := parsertest.Conversation{{Side: flowscope.Orig, Data: qs}, {Side: flowscope.Resp, Data: rs}}
	parsertest.Run(t, dnsmsg.Parser{}, append(tcp, many), render)
}

func TestSampleUDP(t *testing.T) {
	_, udp := sampleStreams(t)
	p := dnsmsg.Parser{}.NewDatagram(udpRec(53))
	var out []*dnsmsg.Transaction
	for i, d := range udp {
		out = p.Datagram(flowscope.Orig, d, int64(i), out)
	}
	out = p.End(nil, out)
	if len(out) != 3 {
		t.Fatalf("%d transactions from the sample's UDP DNS, want 3", len(out))
	}
	for _, tx := range out {
		if tx.Query == nil || tx.Response == nil {
			t.Errorf("unpaired: %s", render(tx))
		}
	}
}

func FuzzDecode(f *testing.F) {
	tcp, udp := sampleStreams(f)
	for _, d := range udp {
		f.Add(d)
	}
	for _, p := range tcp[0] {
		if len(p.Data) > 2 {
			f.Add(p.Data[2:])
		}
	}
	f.Add([]byte{0, 7, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := dnsmsg.Decode(b, 0)
		if err != nil {
			if len(b) >= 12 {
				t.Fatalf("a %d-byte message gave no header: %v", len(b), err)
			}
			return
		}
		if len(m.Answers) != len(m.TTLs) || (m.Malformed == "" && len(m.Answers) != int(m.ANCount)) {
			t.Fatalf("%d answers, %d TTLs, ANCOUNT %d, malformed %q", len(m.Answers), len(m.TTLs), m.ANCount, m.Malformed)
		}
		// The same bytes as a TCP stream, cut anywhere, never panic.
		s := dnsmsg.Parser{}.NewSession(udpRec(53))
		framed := binary.BigEndian.AppendUint16(nil, uint16(len(b)))
		framed = append(framed, b...)
		for i := range framed {
			s.Data(flowscope.Orig, framed[i:i+1], 0, nil)
		}
		s.End(nil, nil)
	})
}
