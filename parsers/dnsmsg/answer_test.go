package dnsmsg

import (
	"net"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// TestAnswerTextAsMiekg: the answers printed directly read exactly as
// miekg/dns prints them, for plain and odd names and addresses alike.
func TestAnswerTextAsMiekg(t *testing.T) {
	h := func(t uint16) dns.RR_Header {
		return dns.RR_Header{Name: "q.example.", Rrtype: t, Class: dns.ClassINET, Ttl: 60}
	}
	names := []string{"edge.example.com.", "a_b-c.example.", ".", "we\\ird.example.", "sp ace.example.", "dot\\.inside.example.", "\xc3\xa9t\xc3\xa9.example.", "x.\\000.example."}
	var rrs []dns.RR
	for _, ip := range []string{"93.184.216.34", "0.0.0.0", "255.255.255.255"} {
		rrs = append(rrs, &dns.A{Hdr: h(dns.TypeA), A: net.ParseIP(ip)})
	}
	rrs = append(rrs, &dns.A{Hdr: h(dns.TypeA), A: net.ParseIP("93.184.216.34").To4()})
	for _, ip := range []string{"2001:db8::1", "::", "::ffff:192.0.2.1", "fe80::1:2:3:4", "2001:db8:0:0:1:0:0:1"} {
		rrs = append(rrs, &dns.AAAA{Hdr: h(dns.TypeAAAA), AAAA: net.ParseIP(ip)})
	}
	for _, n := range names {
		rrs = append(rrs, &dns.CNAME{Hdr: h(dns.TypeCNAME), Target: n}, &dns.PTR{Hdr: h(dns.TypePTR), Ptr: n}, &dns.NS{Hdr: h(dns.TypeNS), Ns: n})
	}
	rrs = append(rrs, &dns.MX{Hdr: h(dns.TypeMX), Preference: 10, Mx: "mx.example."}, &dns.TXT{Hdr: h(dns.TypeTXT), Txt: []string{"v=spf1 -all"}})
	for _, rr := range rrs {
		// Through the wire, as Decode sees records.
		msg := new(dns.Msg)
		msg.SetQuestion("q.example.", rr.Header().Rrtype)
		msg.Response = true
		msg.Answer = []dns.RR{rr}
		b, err := msg.Pack()
		if err != nil {
			t.Fatalf("%v: %v", rr, err)
		}
		var back dns.Msg
		if err := back.Unpack(b); err != nil {
			t.Fatalf("%v: %v", rr, err)
		}
		got := answerText(back.Answer[0])
		want := strings.TrimPrefix(back.Answer[0].String(), back.Answer[0].Header().String())
		if got != want {
			t.Errorf("%v: %q, miekg/dns prints %q", rr, got, want)
		}
	}
}
