package dnsmsg

import (
	"math/rand/v2"
	"net"
	"reflect"
	"testing"

	"github.com/miekg/dns"
)

// simpleCorpus returns packed messages of the kinds decodeSimple takes
// and of kinds it must leave to miekg/dns.
func simpleCorpus() [][]byte {
	rng := rand.New(rand.NewPCG(11, 11))
	names := []string{"www.example.com.", "a-b_c.example.", "x.", "we\\.ird.example.", "sp\\ ace.example.", "UPPER.Case.Example."}
	var out [][]byte
	for i := range 400 {
		name := names[i%len(names)]
		q := new(dns.Msg)
		q.SetQuestion(name, []uint16{dns.TypeA, dns.TypeAAAA, dns.TypePTR, dns.TypeMX, dns.TypeCNAME}[i%5])
		q.Id = uint16(i)
		if i%3 == 0 {
			q.SetEdns0(1232, i%2 == 0)
		}
		b, _ := q.Pack()
		out = append(out, b)
		r := new(dns.Msg)
		r.SetReply(q)
		h := func(t uint16) dns.RR_Header {
			return dns.RR_Header{Name: name, Rrtype: t, Class: dns.ClassINET, Ttl: rng.Uint32() % 86400}
		}
		for k := range i % 5 {
			switch (i + k) % 10 {
			case 0:
				r.Answer = append(r.Answer, &dns.A{Hdr: h(dns.TypeA), A: net.IPv4(byte(rng.Uint32()), byte(rng.Uint32()), 2, byte(k))})
			case 1:
				r.Answer = append(r.Answer, &dns.AAAA{Hdr: h(dns.TypeAAAA), AAAA: net.ParseIP("2001:db8::1")})
			case 2:
				r.Answer = append(r.Answer, &dns.AAAA{Hdr: h(dns.TypeAAAA), AAAA: net.ParseIP("::ffff:192.0.2.1")})
			case 3:
				r.Answer = append(r.Answer, &dns.CNAME{Hdr: h(dns.TypeCNAME), Target: names[(i+k)%len(names)]})
			case 4:
				r.Answer = append(r.Answer, &dns.PTR{Hdr: h(dns.TypePTR), Ptr: "host.example."})
			case 5:
				r.Answer = append(r.Answer, &dns.MX{Hdr: h(dns.TypeMX), Preference: 10, Mx: "mx.example."})
			case 6:
				r.Answer = append(r.Answer, &dns.NS{Hdr: h(dns.TypeNS), Ns: "ns1.example."})
			case 7:
				r.Answer = append(r.Answer, &dns.TXT{Hdr: h(dns.TypeTXT), Txt: []string{"v=spf1 include:_spf.example ~all"}})
			case 8:
				txts := [][]string{{`a\"q\"`}, {`back\\slash`}, {`tab\009`}, {""}, {"one", "two words"}, {`\255high`}, {"x"}}
				r.Answer = append(r.Answer, &dns.TXT{Hdr: h(dns.TypeTXT), Txt: txts[(i/10+k)%len(txts)]})
			case 9:
				r.Answer = append(r.Answer, &dns.MX{Hdr: h(dns.TypeMX), Preference: uint16(rng.Uint32()), Mx: names[(i+k)%len(names)]})
			}
		}
		if i%11 == 0 {
			r.Rcode = dns.RcodeNameError
			r.Ns = append(r.Ns, &dns.SOA{Hdr: h(dns.TypeSOA), Ns: "ns.example.", Mbox: "h.example.", Serial: 1})
		}
		if i%4 == 0 {
			r.SetEdns0(4096, false)
		}
		r.Compress = i%2 == 0
		b, _ = r.Pack()
		out = append(out, b)
	}
	return out
}

// decodeBoth decodes b with and without decodeSimple.
func decodeBoth(b []byte) (fast, slow *Message, fastErr, slowErr error) {
	fast, fastErr = Decode(b, 7)
	fastDecode = false
	defer func() { fastDecode = true }()
	slow, slowErr = Decode(b, 7)
	return
}

// TestDecodeSimpleAsMiekg: on every message of the corpus, and on
// thousands of mutations of them, Decode says the same with the simple
// reader as with miekg/dns alone; and the simple reader takes the common
// messages.
func TestDecodeSimpleAsMiekg(t *testing.T) {
	rng := rand.New(rand.NewPCG(12, 12))
	taken := 0
	corpus := simpleCorpus()
	for i, b := range corpus {
		var m Message
		m.QDCount, m.ANCount, m.NSCount, m.ARCount = 1, uint16(b[7]), uint16(b[9]), uint16(b[11])
		if decodeSimple(b, &m, new(Question)) {
			taken++
		}
		for j := range 20 {
			c := b
			if j > 0 {
				c = append([]byte(nil), b...)
				for range 1 + rng.IntN(3) {
					switch rng.IntN(3) {
					case 0:
						if len(c) == 0 {
							break
						}
						c[rng.IntN(len(c))] = byte(rng.Uint32())
					case 1:
						c = c[:rng.IntN(len(c)+1)]
					case 2:
						c = append(c, byte(rng.Uint32()))
					}
				}
			}
			fast, slow, fe, se := decodeBoth(c)
			if (fe == nil) != (se == nil) || !reflect.DeepEqual(fast, slow) {
				t.Fatalf("message %d, mutation %d (% x):\nsimple %+v %v\nmiekg  %+v %v", i, j, c, fast, fe, slow, se)
			}
		}
	}
	if taken < len(corpus)/3 {
		t.Errorf("the simple reader took %d of %d messages", taken, len(corpus))
	}
}

// FuzzDecodeSimple: whatever the bytes, Decode says the same with the
// simple reader as with miekg/dns alone.
func FuzzDecodeSimple(f *testing.F) {
	for _, b := range simpleCorpus()[:60] {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		fast, slow, fe, se := decodeBoth(b)
		if (fe == nil) != (se == nil) || !reflect.DeepEqual(fast, slow) {
			t.Fatalf("simple %+v %v\nmiekg  %+v %v", fast, fe, slow, se)
		}
	})
}

// TestDecodeSimpleNameInRecordData: a name in a record's data may point
// back into the message but not past the record's end (miekg/dns reads
// the data with the message cut there); the simple reader agrees on
// both, for each type whose data is a name.
func TestDecodeSimpleNameInRecordData(t *testing.T) {
	for _, tc := range []struct {
		typ    uint16
		prefix []byte // data before the name: MX's preference
		want   string
	}{
		{dns.TypeCNAME, nil, "a.example."},
		{dns.TypeNS, nil, "a.example."},
		{dns.TypePTR, nil, "a.example."},
		{dns.TypeMX, []byte{0, 10}, "10 a.example."},
	} {
		for _, forward := range []bool{false, true} {
			// Question "a.example." A at 12; the first answer's data
			// points at the question's name (12) or at the second
			// answer's owner name, which comes after it.
			b := []byte{0, 1, 0x81, 0x80, 0, 1, 0, 2, 0, 0, 0, 0}
			b = append(b, "\x01a\x07example\x00\x00\x01\x00\x01"...)
			rdlen := len(tc.prefix) + 2
			b = append(b, 0xc0, 12, byte(tc.typ>>8), byte(tc.typ), 0, 1, 0, 0, 0, 60, 0, byte(rdlen))
			b = append(b, tc.prefix...)
			target := 12
			if forward {
				target = len(b) + 2
			}
			b = append(b, 0xc0, byte(target))
			b = append(b, "\x01a\x07example\x00\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04\x01\x02\x03\x04"...)

			fast, slow, fe, se := decodeBoth(b)
			if fe != nil || se != nil || !reflect.DeepEqual(fast, slow) {
				t.Fatalf("type %d forward %v: simple %+v %v, miekg %+v %v", tc.typ, forward, fast, fe, slow, se)
			}
			if forward {
				if fast.Malformed == "" || len(fast.Answers) != 0 {
					t.Errorf("type %d, pointer past the record: %+v, want it malformed", tc.typ, fast)
				}
				continue
			}
			if fast.Malformed != "" || len(fast.Answers) != 2 || fast.Answers[0] != tc.want {
				t.Errorf("type %d, pointer back: %+v, want first answer %q", tc.typ, fast, tc.want)
			}
			m := Message{QDCount: 1, ANCount: 2}
			if !decodeSimple(b, &m, new(Question)) {
				t.Errorf("type %d: the simple reader left a plain message to miekg/dns", tc.typ)
			}
		}
	}
}
