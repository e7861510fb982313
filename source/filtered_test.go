package source_test

import (
	"context"
	"errors"
	"io"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/flowscope-go/flowscope"
	"github.com/flowscope-go/flowscope/flowkey"
	"github.com/flowscope-go/flowscope/internal/pcapgen"
	"github.com/flowscope-go/flowscope/source"
)

// TestFiltered passes the packets the expression accepts, for each link
// type it meets, counts the rest, and refuses a link type the expression
// cannot apply to, keeping what it accepted before.
func TestFiltered(t *testing.T) {
	ap := netip.MustParseAddrPort
	dnsq := pcapgen.UDP(ap("10.0.0.1:5000"), ap("10.0.0.2:53"), make([]byte, 30))
	web := pcapgen.TCP(ap("10.0.0.1:5001"), ap("10.0.0.2:80"), 1, 0, pcapgen.SYN, nil)
	t0 := time.Unix(1_700_000_000, 0)
	pkt := func(data []byte, lt flowkey.LinkType) flowscope.Packet {
		return flowscope.Packet{Data: data, Time: t0.UnixNano(), Length: len(data), LinkType: lt}
	}
	var pkts []flowscope.Packet
	for range 3000 { // more than a batch: some batches are all rejected
		pkts = append(pkts, pkt(web, flowkey.LinkEthernet))
	}
	pkts = append(pkts, pkt(dnsq, flowkey.LinkEthernet), pkt(dnsq[14:], flowkey.LinkRaw), pkt(web[14:], flowkey.LinkRaw))
	f, err := source.NewFiltered(source.NewMemory(pkts), "udp port 53")
	if err != nil {
		t.Fatal(err)
	}
	var got []flowkey.LinkType
	var b source.Batch
	for {
		err := f.ReadBatch(context.Background(), &b)
		for _, p := range b.Packets {
			got = append(got, p.LinkType)
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(got) != 2 || got[0] != flowkey.LinkEthernet || got[1] != flowkey.LinkRaw {
		t.Errorf("passed %v, want the DNS query as Ethernet and as raw IP", got)
	}
	if st := f.Stats(); st.Packets != 2 || st.Filtered != 3001 {
		t.Errorf("stats %+v: want 2 packets passed, 3001 filtered", st)
	}

	if _, err := source.NewFiltered(source.NewMemory(nil), "port"); err == nil {
		t.Error("a bad expression is accepted")
	}
	f, err = source.NewFiltered(source.NewMemory([]flowscope.Packet{pkt(dnsq, flowkey.LinkEthernet), pkt(dnsq[14:], flowkey.LinkRaw)}), "udp or vlan")
	if err != nil {
		t.Fatal(err)
	}
	err = f.ReadBatch(context.Background(), &b)
	if err == nil || !strings.Contains(err.Error(), "link type 101") || len(b.Packets) != 1 {
		t.Errorf("vlan on raw IP: %v, %d packets kept; want an error naming the link type, the Ethernet packet kept", err, len(b.Packets))
	}
}
