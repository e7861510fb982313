package flowscope

import "net/netip"

// Conn identifies a flow in the records made of it, and tells the flow's
// parsers how it began. A Driver makes one for each flow that has parsers,
// when the flow starts, and shares it between them and the records they
// make; it does not change afterwards. Zeek calls every flow, UDP and
// ICMP ones too, a connection.
type Conn struct {
	// UID is the flow's uid, the same as in its conn record.
	UID string
	// Orig and Resp are the originator and the responder.
	Orig, Resp netip.AddrPort
	// Proto is the IP protocol number.
	Proto uint8
	// Start is the time of the flow's first packet, in Unix nanoseconds.
	Start int64
	// History is the flow's history as of its first packet: a TCP
	// connection seen from its SYN starts with 'S', one whose first
	// packet was a SYN-ACK with "^H" (see History).
	History History
}

// ConnOf returns the Conn of the flow whose record is rec (as of its
// first packet, say). It computes the uid, a hash: make it once a flow.
func ConnOf(rec *FlowRecord) *Conn {
	return &Conn{
		UID:     rec.UID(),
		Orig:    netip.AddrPortFrom(rec.Orig.Addr.Netip(), rec.Orig.Port),
		Resp:    netip.AddrPortFrom(rec.Resp.Addr.Netip(), rec.Resp.Port),
		Proto:   rec.Proto,
		Start:   rec.First,
		History: rec.History,
	}
}

// AppendValues appends the values of the first fields of a ConnSchema
// record to vs: ts (the record's own time), uid, id.orig_h, id.orig_p,
// id.resp_h and id.resp_p. A nil Conn gives ts and unset values.
func (c *Conn) AppendValues(vs []Value, ts int64) []Value {
	if c == nil {
		return append(vs, TimeValue(ts), Value{}, Value{}, Value{}, Value{}, Value{})
	}
	return append(vs, TimeValue(ts), StringValue(c.UID),
		AddrValue(c.Orig.Addr()), PortValue(c.Orig.Port()),
		AddrValue(c.Resp.Addr()), PortValue(c.Resp.Port()))
}
