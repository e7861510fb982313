package main

import (
	"fmt"
	"math/rand/v2"
	"net"

	"github.com/miekg/dns"
)

var qtypes = []struct {
	t    uint16
	pct  int
	name string
}{
	{dns.TypeA, 60, "A"}, {dns.TypeAAAA, 25, "AAAA"}, {dns.TypeHTTPS, 7, "HTTPS"},
	{dns.TypeMX, 3, "MX"}, {dns.TypeTXT, 3, "TXT"}, {dns.TypePTR, 2, "PTR"},
}

// dnsExchange returns a query and its response (nil when the server does
// not answer).
func dnsExchange(rng *rand.Rand, hostN int) (query, response []byte) {
	q := new(dns.Msg)
	name := dns.Fqdn(hostName(hostN))
	r := rng.IntN(100)
	qt := qtypes[0].t
	for _, t := range qtypes {
		if r < t.pct {
			qt = t.t
			break
		}
		r -= t.pct
	}
	if qt == dns.TypePTR {
		name = fmt.Sprintf("%d.%d.%d.%d.in-addr.arpa.", rng.IntN(256), rng.IntN(256), rng.IntN(256), rng.IntN(223)+1)
	}
	q.SetQuestion(name, qt)
	q.Id = uint16(rng.Uint32())
	if rng.IntN(2) == 0 {
		q.SetEdns0(1232, false)
	}
	query, err := q.Pack()
	if err != nil {
		panic(err)
	}
	if rng.IntN(100) < 2 {
		return query, nil // unanswered
	}
	m := new(dns.Msg)
	m.SetReply(q)
	m.RecursionAvailable = true
	hdr := func(n string, t uint16) dns.RR_Header {
		return dns.RR_Header{Name: n, Rrtype: t, Class: dns.ClassINET, Ttl: uint32(30 + rng.IntN(3600))}
	}
	switch {
	case rng.IntN(100) < 5:
		m.Rcode = dns.RcodeNameError
		m.Ns = append(m.Ns, &dns.SOA{Hdr: hdr("example.", dns.TypeSOA), Ns: "ns1.example.", Mbox: "hostmaster.example.",
			Serial: 2026112701, Refresh: 7200, Retry: 900, Expire: 1209600, Minttl: 300})
	default:
		target := name
		if rng.IntN(3) == 0 && qt != dns.TypePTR {
			target = dns.Fqdn("edge-" + hostName(hostN+7))
			m.Answer = append(m.Answer, &dns.CNAME{Hdr: hdr(name, dns.TypeCNAME), Target: target})
		}
		for range 1 + rng.IntN(4) {
			switch qt {
			case dns.TypeA:
				m.Answer = append(m.Answer, &dns.A{Hdr: hdr(target, qt), A: net.IPv4(byte(93+rng.IntN(100)), byte(rng.IntN(256)), byte(rng.IntN(256)), byte(rng.IntN(254)+1))})
			case dns.TypeAAAA:
				ip := make(net.IP, 16)
				copy(ip, []byte{0x20, 0x01, 0x0d, 0xb8})
				for i := 8; i < 16; i++ {
					ip[i] = byte(rng.Uint32())
				}
				m.Answer = append(m.Answer, &dns.AAAA{Hdr: hdr(target, qt), AAAA: ip})
			case dns.TypeMX:
				m.Answer = append(m.Answer, &dns.MX{Hdr: hdr(target, qt), Preference: uint16(10 * (1 + rng.IntN(5))), Mx: "mx" + fmt.Sprint(rng.IntN(9)) + "." + target})
			case dns.TypeTXT:
				m.Answer = append(m.Answer, &dns.TXT{Hdr: hdr(target, qt), Txt: []string{"v=spf1 include:_spf." + target + " ~all"}})
			case dns.TypePTR:
				m.Answer = append(m.Answer, &dns.PTR{Hdr: hdr(name, qt), Ptr: dns.Fqdn(hostName(rng.IntN(5000)))})
			default:
				m.Answer = append(m.Answer, &dns.HTTPS{SVCB: dns.SVCB{Hdr: hdr(target, qt), Priority: 1, Target: "."}})
			}
			if qt == dns.TypePTR || qt == dns.TypeHTTPS {
				break
			}
		}
	}
	response, err = m.Pack()
	if err != nil {
		panic(err)
	}
	return query, response
}
