package flowscope_test

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/flowscope-go/flowscope"
	"github.com/flowscope-go/flowscope/flowkey"
	"github.com/flowscope-go/flowscope/internal/pcapgen"
)

// Drive a tracker from a plain loop: one packet in, events out.
func ExampleTracker() {
	client := netip.MustParseAddrPort("192.0.2.10:51000")
	server := netip.MustParseAddrPort("198.51.100.1:80")
	frames := pcapgen.TCPConn(pcapgen.Conn{Client: client, Server: server, Start: time.Unix(1_700_000_000, 0),
		Exchanges: 1, ReqSize: 120, RespSize: 900})

	tr := flowscope.NewTracker(flowkey.FiveTupleExtractor{}, nil)
	var events []flowscope.FlowEvent
	for _, f := range frames {
		p := flowscope.Packet{Data: f.Data, Timestamp: f.TS, Length: len(f.Data), LinkType: flowkey.LinkEthernet}
		events = tr.Track(&p, events)
	}
	events = tr.Flush(flowscope.EndOfInput, events)

	for _, e := range events {
		r := e.Flow
		fmt.Printf("%s:%d -> %s:%d %s %s bytes %d/%d ended by %s\n",
			r.Orig.Addr, r.Orig.Port, r.Resp.Addr, r.Resp.Port,
			r.State, r.History.String(), r.Stats[flowscope.Orig].Bytes, r.Stats[flowscope.Resp].Bytes, r.Reason)
	}
	// Output:
	// 192.0.2.10:51000 -> 198.51.100.1:80 SF ShADdFf bytes 120/900 ended by fin
}

// Key flows by IP pair instead of 5-tuple: all traffic between two hosts
// is one flow.
func ExampleExtractor() {
	a := netip.MustParseAddrPort("192.0.2.10:51000")
	b := netip.MustParseAddrPort("198.51.100.1:53")
	t0 := time.Unix(1_700_000_000, 0)
	tr := flowscope.NewTracker(flowkey.IPPairExtractor{}, nil)
	var events []flowscope.FlowEvent
	for i := range 3 {
		src := netip.AddrPortFrom(a.Addr(), a.Port()+uint16(i)) // a new source port each time
		for _, f := range pcapgen.UDPExchange(src, b, t0.Add(time.Duration(i)*time.Second), 1, 40, 80) {
			p := flowscope.Packet{Data: f.Data, Timestamp: f.TS, LinkType: flowkey.LinkEthernet}
			events = tr.Track(&p, events)
		}
	}
	events = tr.Flush(flowscope.EndOfInput, events)
	fmt.Println(len(events), "flow,", events[0].Flow.Stats[flowscope.Orig].Packets+events[0].Flow.Stats[flowscope.Resp].Packets, "packets")
	// Output:
	// 1 flow, 6 packets
}
