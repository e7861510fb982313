package flowscope

import (
	"net/netip"
	"testing"
	"time"

	"github.com/flowscope-go/flowscope/flowkey"
	"github.com/flowscope-go/flowscope/internal/pcapgen"
)

// TestLinksInterned runs flows over three MAC pairs and VLANs, one of
// them opened by a SYN-ACK (orig and resp swapped): every record gets its
// own MAC addresses, VLAN and IP version back, and once the flows end the
// links table holds nothing.
func TestLinksInterned(t *testing.T) {
	d := NewDriver(flowkey.FiveTupleExtractor{}, nil)
	tr := d.t
	macs := [][2][6]byte{
		{{2, 0, 0, 0, 0, 1}, {2, 0, 0, 0, 0, 2}},
		{{2, 0, 0, 0, 0, 3}, {2, 0, 0, 0, 0, 4}},
	}
	frame := func(i int, src, dst string, flags uint8, vlan uint16) []byte {
		f := pcapgen.TCP(netip.MustParseAddrPort(src), netip.MustParseAddrPort(dst), 1, 1, flags, nil)
		copy(f[0:6], macs[i%2][1][:])
		copy(f[6:12], macs[i%2][0][:])
		if vlan != 0 {
			tagged := append([]byte(nil), f[:12]...)
			tagged = append(tagged, 0x81, 0, byte(vlan>>8), byte(vlan))
			f = append(tagged, f[12:]...)
		}
		return f
	}
	t0 := time.Unix(1_700_000_000, 0)
	var evs []Record
	want := map[uint16]FlowRecord{}
	distinct := map[[3]any]bool{}
	for i := range 40 {
		src := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 0, byte(i + 1)}), 40000)
		dst := netip.MustParseAddrPort("10.1.0.1:80")
		flags, vlan := uint8(pcapgen.SYN), uint16(i%3*100)
		orig, resp := macs[i%2][0], macs[i%2][1]
		if i%5 == 0 { // a SYN-ACK first: the sender is the responder
			src, dst = dst, src
			flags = pcapgen.SYN | pcapgen.ACK
			orig, resp = resp, orig
		}
		f := frame(i, src.String(), dst.String(), flags, vlan)
		p := Packet{Data: f, Time: t0.Add(time.Duration(i) * time.Millisecond).UnixNano(), Length: len(f), LinkType: flowkey.LinkEthernet}
		evs = d.Track(&p, evs)
		distinct[[3]any{orig, resp, vlan}] = true
		want[uint16(i)] = FlowRecord{VLAN: vlan, IPVersion: 4, Orig: Endpoint{MAC: orig}, Resp: Endpoint{MAC: resp}}
	}
	if n := len(tr.links.ids); n != len(distinct) {
		t.Errorf("%d links interned, want %d (MAC pairs either way round, times VLANs)", n, len(distinct))
	}
	evs = d.Flush(EndOfInput, evs)
	got := 0
	for _, e := range evs {
		r, ok := e.(*FlowRecord)
		if !ok {
			continue
		}
		// The client address's last byte is i+1.
		client := r.Orig.Addr
		if client[13] == 1 { // 10.1.0.1, the server
			client = r.Resp.Addr
		}
		i := uint16(client[15] - 1)
		w := want[i]
		if r.VLAN != w.VLAN || r.IPVersion != 4 || r.Orig.MAC != w.Orig.MAC || r.Resp.MAC != w.Resp.MAC {
			t.Errorf("flow %d: vlan %d ipv %d macs %x %x, want %d 4 %x %x", i, r.VLAN, r.IPVersion, r.Orig.MAC, r.Resp.MAC, w.VLAN, w.Orig.MAC, w.Resp.MAC)
		}
		got++
	}
	if got != 40 {
		t.Fatalf("%d flows ended, want 40", got)
	}
	if len(tr.links.ids) != 0 || len(tr.links.free) != len(tr.links.infos) {
		t.Errorf("after every flow ended: %d links held, %d of %d free", len(tr.links.ids), len(tr.links.free), len(tr.links.infos))
	}
}
