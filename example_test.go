package flowscope_test

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"os"
	"time"

	"github.com/flowscope-go/flowscope"
	"github.com/flowscope-go/flowscope/flowkey"
	"github.com/flowscope-go/flowscope/internal/pcapgen"
	"github.com/flowscope-go/flowscope/sink"
)

// Drive a Driver from a plain loop: one packet in, records out.
func ExampleDriver() {
	client := netip.MustParseAddrPort("192.0.2.10:51000")
	server := netip.MustParseAddrPort("198.51.100.1:80")
	frames := pcapgen.TCPConn(pcapgen.Conn{Client: client, Server: server, Start: time.Unix(1_700_000_000, 0),
		Exchanges: 1, ReqSize: 120, RespSize: 900})

	d := flowscope.NewDriver(flowkey.FiveTupleExtractor{}, nil)
	var recs []flowscope.Record
	for _, f := range frames {
		p := flowscope.Packet{Data: f.Data, Time: f.TS.UnixNano(), Length: len(f.Data), LinkType: flowkey.LinkEthernet}
		recs = d.Track(&p, recs)
	}
	recs = d.Flush(flowscope.EndOfInput, recs)

	for _, rec := range recs {
		r := rec.(*flowscope.FlowRecord) // no parsers: conn records only
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
	d := flowscope.NewDriver(flowkey.IPPairExtractor{}, nil)
	var recs []flowscope.Record
	for i := range 3 {
		src := netip.AddrPortFrom(a.Addr(), a.Port()+uint16(i)) // a new source port each time
		for _, f := range pcapgen.UDPExchange(src, b, t0.Add(time.Duration(i)*time.Second), 1, 40, 80) {
			p := flowscope.Packet{Data: f.Data, Time: f.TS.UnixNano(), LinkType: flowkey.LinkEthernet}
			recs = d.Track(&p, recs)
		}
	}
	recs = d.Flush(flowscope.EndOfInput, recs)
	r := recs[0].(*flowscope.FlowRecord)
	fmt.Println(len(recs), "flow,", r.Stats[flowscope.Orig].Packets+r.Stats[flowscope.Resp].Packets, "packets")
	// Output:
	// 1 flow, 6 packets
}

// Greeting is the record of a toy protocol: the first line each side of
// a TCP connection sends. It describes itself, so any encoder writes it.
type Greeting struct {
	Conn       *flowscope.Conn
	Time       int64
	Side       flowscope.Side
	Line       string
	Incomplete bool
}

var greetingSchema = flowscope.ConnSchema("greeting",
	flowscope.Field{Name: "side", Type: flowscope.TypeEnum},
	flowscope.Field{Name: "line", Type: flowscope.TypeString},
	flowscope.Field{Name: "incomplete", Type: flowscope.TypeBool},
)

func (g *Greeting) Schema() *flowscope.Schema { return greetingSchema }

func (g *Greeting) AppendValues(vs []flowscope.Value) []flowscope.Value {
	vs = g.Conn.AppendValues(vs, g.Time) // ts, uid, id.orig_h, ...
	return append(vs, flowscope.EnumValue(g.Side.String()), flowscope.StringValue(g.Line), flowscope.BoolValue(g.Incomplete))
}

// greetings parses one connection: it keeps each side's bytes up to its
// first line end, then is done with that side.
type greetings struct {
	conn *flowscope.Conn
	buf  [2][]byte
	done [2]bool
}

func (p *greetings) Data(s flowscope.Side, b []byte, ts int64, out []*Greeting) []*Greeting {
	if p.done[s] {
		return out
	}
	p.buf[s] = append(p.buf[s], b...) // b is borrowed: copy what is kept
	if i := bytes.IndexByte(p.buf[s], '\n'); i >= 0 {
		p.done[s] = true
		return append(out, &Greeting{Conn: p.conn, Time: ts, Side: s, Line: string(bytes.TrimRight(p.buf[s][:i], "\r"))})
	}
	if len(p.buf[s]) > 512 { // not this protocol
		p.done[s] = true
	}
	return out
}

func (p *greetings) Gap(s flowscope.Side, _ uint64, _ int64, out []*Greeting) []*Greeting {
	p.done[s] = true
	return out
}

func (p *greetings) End(rec *flowscope.FlowRecord, out []*Greeting) []*Greeting {
	for s := range p.buf {
		if !p.done[s] && len(p.buf[s]) > 0 {
			out = append(out, &Greeting{Conn: p.conn, Time: rec.Last, Side: flowscope.Side(s), Line: string(p.buf[s]), Incomplete: true})
		}
	}
	return out
}

// Done tells the Driver to feed the parser no more of the connection.
func (p *greetings) Done() bool { return p.done[0] && p.done[1] }

// Add a session parser of your own to a Driver; its records come out
// with the conn records, and the Zeek JSON encoder writes them.
func ExampleSession() {
	client := netip.MustParseAddrPort("192.0.2.10:51000")
	server := netip.MustParseAddrPort("198.51.100.1:25")
	t0 := time.Unix(1_700_000_000, 0)
	var frames []pcapgen.Packet
	seg := func(ms int, src, dst netip.AddrPort, seq, ack uint32, flags uint8, data string) {
		frames = append(frames, pcapgen.Packet{TS: t0.Add(time.Duration(ms) * time.Millisecond), Data: pcapgen.TCP(src, dst, seq, ack, flags, []byte(data))})
	}
	seg(0, client, server, 100, 0, pcapgen.SYN, "")
	seg(1, server, client, 500, 101, pcapgen.SYN|pcapgen.ACK, "")
	seg(2, client, server, 101, 501, pcapgen.ACK, "")
	seg(3, server, client, 501, 101, pcapgen.PSH|pcapgen.ACK, "220 mail.example ESMTP\r\n")
	seg(4, client, server, 101, 525, pcapgen.PSH|pcapgen.ACK, "EHLO client.example\r\n")

	d := flowscope.NewDriver(flowkey.FiveTupleExtractor{}, &flowscope.Config{Parsers: []flowscope.Parser{
		flowscope.Session(flowscope.SessionFactoryFunc[*Greeting](func(c *flowscope.Conn) flowscope.SessionParser[*Greeting] {
			return &greetings{conn: c}
		})),
	}})
	var recs []flowscope.Record
	for _, f := range frames {
		p := flowscope.Packet{Data: f.Data, Time: f.TS.UnixNano(), Length: len(f.Data), LinkType: flowkey.LinkEthernet}
		recs = d.Track(&p, recs)
	}
	recs = d.Flush(flowscope.EndOfInput, recs)
	w := sink.NewLines(os.Stdout, &sink.ZeekJSON{})
	for _, r := range recs {
		if g, ok := r.(*Greeting); ok {
			_ = w.Write(context.Background(), []flowscope.Record{g})
		}
	}
	_ = w.Flush()
	// Output:
	// {"_path":"greeting","ts":1700000000.003000,"uid":"CCuH0DGLXyrn1Nkb2z","id.orig_h":"192.0.2.10","id.orig_p":51000,"id.resp_h":"198.51.100.1","id.resp_p":25,"side":"resp","line":"220 mail.example ESMTP","incomplete":false}
	// {"_path":"greeting","ts":1700000000.004000,"uid":"CCuH0DGLXyrn1Nkb2z","id.orig_h":"192.0.2.10","id.orig_p":51000,"id.resp_h":"198.51.100.1","id.resp_p":25,"side":"orig","line":"EHLO client.example","incomplete":false}
}

// Beacon is the record of a toy UDP protocol: a datagram "BEACON name".
type Beacon struct {
	Conn *flowscope.Conn
	Time int64
	Name string
}

var beaconSchema = flowscope.ConnSchema("beacon", flowscope.Field{Name: "name", Type: flowscope.TypeString})

func (b *Beacon) Schema() *flowscope.Schema { return beaconSchema }

func (b *Beacon) AppendValues(vs []flowscope.Value) []flowscope.Value {
	return append(b.Conn.AppendValues(vs, b.Time), flowscope.StringValue(b.Name))
}

// beacons parses one UDP flow; the first datagram decides whether it is
// the protocol at all.
type beacons struct {
	conn          *flowscope.Conn
	checked, done bool
}

func (p *beacons) Datagram(_ flowscope.Side, b []byte, ts int64, out []*Beacon) []*Beacon {
	name, ok := bytes.CutPrefix(b, []byte("BEACON "))
	if !ok {
		p.done = !p.checked // not this protocol: give the flow up
		return out
	}
	p.checked = true
	return append(out, &Beacon{Conn: p.conn, Time: ts, Name: string(name)}) // string copies: b is borrowed
}

func (p *beacons) End(_ *flowscope.FlowRecord, out []*Beacon) []*Beacon { return out }
func (p *beacons) Done() bool                                           { return p.done }

// Add a datagram parser of your own: it runs on every UDP flow, finds its
// protocol by content, and gives the others up.
func ExampleDatagram() {
	t0 := time.Unix(1_700_000_000, 0)
	a := netip.MustParseAddrPort("192.0.2.10:40000")
	b := netip.MustParseAddrPort("192.0.2.255:9999")
	c := netip.MustParseAddrPort("198.51.100.1:53")
	frames := [][]byte{
		pcapgen.UDP(a, b, []byte("BEACON printer-3")),
		pcapgen.UDP(a, c, []byte("\x12\x34\x01\x00\x00\x01")), // not a beacon: that flow is given up
		pcapgen.UDP(a, b, []byte("BEACON printer-3")),
	}
	d := flowscope.NewDriver(flowkey.FiveTupleExtractor{}, &flowscope.Config{Parsers: []flowscope.Parser{
		flowscope.Datagram(flowscope.DatagramFactoryFunc[*Beacon](func(c *flowscope.Conn) flowscope.DatagramParser[*Beacon] {
			return &beacons{conn: c}
		})),
	}})
	var recs []flowscope.Record
	for i, f := range frames {
		p := flowscope.Packet{Data: f, Time: t0.Add(time.Duration(i) * time.Second).UnixNano(), Length: len(f), LinkType: flowkey.LinkEthernet}
		recs = d.Track(&p, recs)
	}
	recs = d.Flush(flowscope.EndOfInput, recs)
	for _, r := range recs {
		if bc, ok := r.(*Beacon); ok {
			fmt.Println(bc.Conn.Orig, "->", bc.Conn.Resp, bc.Name)
		}
	}
	// Output:
	// 192.0.2.10:40000 -> 192.0.2.255:9999 printer-3
	// 192.0.2.10:40000 -> 192.0.2.255:9999 printer-3
}
