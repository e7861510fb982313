package flowkey_test

import (
	"testing"

	"github.com/flowscope-go/flowscope/flowkey"
)

// FuzzDecode checks that Decode never panics and that what it reports is
// consistent: captured payload never exceeds the on-wire payload, and the
// 5-tuple key is the same from both directions.
func FuzzDecode(f *testing.F) {
	for _, s := range seedFrames() {
		f.Add(uint16(s.lt), s.data)
	}
	for _, c := range tunnelCases() {
		f.Add(uint16(flowkey.LinkEthernet), c.frame)
	}
	var dec flowkey.Decoder
	f.Fuzz(func(t *testing.T, lt uint16, data []byte) {
		var d flowkey.Decoded
		err := dec.Decode(flowkey.LinkType(lt), data, &d)
		if err != nil {
			return
		}
		if d.IPVersion != 4 && d.IPVersion != 6 {
			t.Fatalf("decoded without error but IP version %d", d.IPVersion)
		}
		if len(d.Payload) > d.PayloadLen || d.PayloadLen < 0 {
			t.Fatalf("payload %d captured bytes, %d on the wire", len(d.Payload), d.PayloadLen)
		}
		if d.IPLength < 20 {
			t.Fatalf("IP length %d", d.IPLength)
		}
		k, fwd := flowkey.FiveTupleOf(&d)
		r := d
		r.Src, r.Dst, r.SrcPort, r.DstPort = d.Dst, d.Src, d.DstPort, d.SrcPort
		if d.Proto == flowkey.ProtoICMP || d.Proto == flowkey.ProtoICMPv6 {
			return // ICMP ports are type and code, not a swappable pair
		}
		rk, rfwd := flowkey.FiveTupleOf(&r)
		if rk != k || (rfwd == fwd && (d.Src != d.Dst || d.SrcPort != d.DstPort)) {
			t.Fatalf("5-tuple not symmetric: %+v/%v vs %+v/%v", k, fwd, rk, rfwd)
		}
		if k.Hash() != rk.Hash() {
			t.Fatal("hash not symmetric")
		}
	})
}
