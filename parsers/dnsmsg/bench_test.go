package dnsmsg_test

import (
	"encoding/binary"
	"testing"

	"github.com/miekg/dns"

	"github.com/flowscope-go/flowscope"
	"github.com/flowscope-go/flowscope/parsers/dnsmsg"
)

// BenchmarkUDP parses a query and its two-answer response per iteration
// on one UDP flow.
func BenchmarkUDP(b *testing.B) {
	q := query(1, "www.example.com", dns.TypeA)
	r := answer(q, dns.RcodeSuccess, "192.0.2.1", "192.0.2.2")
	p := dnsmsg.Parser{}.NewDatagram(udpRec(53))
	out := make([]*dnsmsg.Transaction, 0, 4)
	b.ReportAllocs()
	for b.Loop() {
		out = p.Datagram(flowscope.Orig, q, 0, out[:0])
		out = p.Datagram(flowscope.Resp, r, 1, out[:0])
	}
	b.ReportMetric(2*float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// BenchmarkTCP is the same exchange over a TCP connection, length-prefixed.
func BenchmarkTCP(b *testing.B) {
	q := query(1, "www.example.com", dns.TypeA)
	r := answer(q, dns.RcodeSuccess, "192.0.2.1", "192.0.2.2")
	fq := append(binary.BigEndian.AppendUint16(nil, uint16(len(q))), q...)
	fr := append(binary.BigEndian.AppendUint16(nil, uint16(len(r))), r...)
	p := dnsmsg.Parser{}.NewSession(udpRec(53))
	out := make([]*dnsmsg.Transaction, 0, 4)
	b.ReportAllocs()
	for b.Loop() {
		out = p.Data(flowscope.Orig, fq, 0, out[:0])
		out = p.Data(flowscope.Resp, fr, 1, out[:0])
	}
	b.ReportMetric(2*float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}
