package flowkey_test

import (
	"reflect"
	"testing"

	"github.com/flowscope-go/flowscope/flowkey"
	"github.com/flowscope-go/flowscope/internal/pcapgen"
)

// FuzzDecode checks that Decode never panics and that what it reports is
// consistent: captured payload never exceeds the on-wire payload, the
// 5-tuple key is the same from both directions, and a Decoded reused after
// a tunnelled packet and a fragment says what a fresh one says; and
// FramePairHash agrees with PairHash after a full decode.
func FuzzDecode(f *testing.F) {
	for _, s := range seedFrames() {
		f.Add(uint16(s.lt), s.data)
	}
	for _, c := range tunnelCases() {
		f.Add(uint16(flowkey.LinkEthernet), c.frame)
	}
	var dec flowkey.Decoder
	dirty := dirtyFrames()
	f.Fuzz(func(t *testing.T, lt uint16, data []byte) {
		var d flowkey.Decoded
		err := dec.Decode(flowkey.LinkType(lt), data, &d)
		checkPairHash(t, &dec, flowkey.LinkType(lt), data)
		for _, prev := range dirty {
			var reused flowkey.Decoded
			_ = dec.Decode(flowkey.LinkEthernet, prev, &reused)
			rerr := dec.Decode(flowkey.LinkType(lt), data, &reused)
			sameDecoded(t, err, &d, rerr, &reused)
		}
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

// dirtyFrames are packets that fill the parts of a Decoded that Decode
// does not clear: a tunnel and a fragment.
func dirtyFrames() [][]byte {
	whole := pcapgen.UDP(cli4, srv4, make([]byte, 300))
	return [][]byte{tunnelCases()[0].frame, pcapgen.Fragments(whole, 128, 7)[1]}
}

// sameDecoded fails t unless a Decoded reused from an earlier packet
// (reused, rerr) says what a fresh one (fresh, err) does.
func sameDecoded(t *testing.T, err error, fresh *flowkey.Decoded, rerr error, reused *flowkey.Decoded) {
	t.Helper()
	if err != rerr {
		t.Fatalf("reused Decoded: %v, fresh: %v", rerr, err)
	}
	if !reflect.DeepEqual(fresh.Headers, reused.Headers) {
		t.Fatalf("reused Decoded has headers\n%+v\nfresh\n%+v", reused.Headers, fresh.Headers)
	}
	if reused.Tunnel.Kind != fresh.Tunnel.Kind || fresh.Tunnel.Kind != flowkey.NoTunnel && reused.Tunnel != fresh.Tunnel {
		t.Fatalf("reused Decoded has tunnel %+v, fresh %+v", reused.Tunnel, fresh.Tunnel)
	}
	if fresh.Fragment && !reflect.DeepEqual(fresh.Frag, reused.Frag) {
		t.Fatalf("reused Decoded has fragment %+v, fresh %+v", reused.Frag, fresh.Frag)
	}
}
