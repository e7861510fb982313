package flowscope

import (
	"encoding/hex"
	"time"

	"github.com/flowscope-go/flowscope/flowkey"
)

// connSchema is the conn record's: Zeek's conn.log fields that the
// tracker fills, and our end_reason.
var connSchema = NewSchema("conn",
	Field{"ts", TypeTime},
	Field{"uid", TypeString},
	Field{"id.orig_h", TypeAddr},
	Field{"id.orig_p", TypePort},
	Field{"id.resp_h", TypeAddr},
	Field{"id.resp_p", TypePort},
	Field{"proto", TypeEnum},
	Field{"duration", TypeInterval},
	Field{"orig_bytes", TypeCount},
	Field{"resp_bytes", TypeCount},
	Field{"conn_state", TypeString},
	Field{"missed_bytes", TypeCount},
	Field{"history", TypeString},
	Field{"orig_pkts", TypeCount},
	Field{"orig_ip_bytes", TypeCount},
	Field{"resp_pkts", TypeCount},
	Field{"resp_ip_bytes", TypeCount},
	Field{"ip_proto", TypeCount},
	Field{"tunnel_parents", SetOf(TypeString)},
	Field{"vlan", TypeCount},
	Field{"orig_l2_addr", TypeString},
	Field{"resp_l2_addr", TypeString},
	Field{"community_id", TypeString},
	Field{"end_reason", TypeString},
)

// Schema returns the schema of conn records: ts, uid, id.orig_h,
// id.orig_p, id.resp_h, id.resp_p, proto, duration, orig_bytes,
// resp_bytes (these three only when the duration is positive, as Zeek
// does), conn_state, missed_bytes, history (when not empty), orig_pkts,
// orig_ip_bytes, resp_pkts, resp_ip_bytes, ip_proto (IP flows),
// tunnel_parents (flows inside a UDP tunnel), vlan (when tagged),
// orig_l2_addr and resp_l2_addr (non-IP flows), community_id (IP flows),
// end_reason.
func (r *FlowRecord) Schema() *Schema { return connSchema }

// AppendValues appends the values of the conn record's fields to vs.
// The uid, history, Community ID and MAC addresses are given as text
// appenders, so appending allocates nothing but for a tunnel parent.
func (r *FlowRecord) AppendValues(vs []Value) []Value {
	ip := r.IPVersion != 0
	addr := func(e *Endpoint) Value {
		if !ip {
			return Value{}
		}
		return AddrValue(e.Addr.Netip())
	}
	vs = append(vs, TimeValue(r.First), TextValue((*uidText)(r)),
		addr(&r.Orig), PortValue(r.Orig.Port), addr(&r.Resp), PortValue(r.Resp.Port),
		EnumValue(r.Transport()))
	if d := r.Last - r.First; d > 0 {
		vs = append(vs, IntervalValue(time.Duration(d)), CountValue(r.Stats[Orig].Bytes), CountValue(r.Stats[Resp].Bytes))
	} else {
		vs = append(vs, Value{}, Value{}, Value{})
	}
	vs = append(vs, StringValue(r.State.String()), CountValue(r.MissedBytes))
	if r.History.Len() > 0 {
		vs = append(vs, TextValue(&r.History))
	} else {
		vs = append(vs, Value{})
	}
	vs = append(vs, CountValue(r.Stats[Orig].Packets), CountValue(r.Stats[Orig].IPBytes),
		CountValue(r.Stats[Resp].Packets), CountValue(r.Stats[Resp].IPBytes))
	if ip {
		vs = append(vs, CountValue(uint64(r.Proto)))
	} else {
		vs = append(vs, Value{})
	}
	if r.TunnelParent[0] != 0 {
		vs = append(vs, StringsValue(SetOf(TypeString), []string{string(r.TunnelParent[:])}))
	} else {
		vs = append(vs, Value{})
	}
	if r.VLAN != 0 {
		vs = append(vs, CountValue(uint64(r.VLAN)))
	} else {
		vs = append(vs, Value{})
	}
	if ip {
		vs = append(vs, Value{}, Value{}, TextValue((*communityIDText)(r)))
	} else {
		vs = append(vs, TextValue((*macText)(&r.Orig.MAC)), TextValue((*macText)(&r.Resp.MAC)), Value{})
	}
	return append(vs, StringValue(r.Reason.String()))
}

// Transport returns Zeek's name for the flow's transport protocol: "tcp",
// "udp", "icmp" (ICMP and ICMPv6), or "unknown_transport".
func (r *FlowRecord) Transport() string {
	switch r.Proto {
	case flowkey.ProtoTCP:
		return "tcp"
	case flowkey.ProtoUDP:
		return "udp"
	case flowkey.ProtoICMP, flowkey.ProtoICMPv6:
		return "icmp"
	}
	return "unknown_transport"
}

// Text appenders of conn record fields, pointers to the record's own
// fields: a Value holds them without allocating.
type (
	uidText         FlowRecord
	communityIDText FlowRecord
	macText         [6]byte
)

func (t *uidText) AppendText(b []byte) ([]byte, error) { return (*FlowRecord)(t).AppendUID(b), nil }

func (t *communityIDText) AppendText(b []byte) ([]byte, error) {
	return (*FlowRecord)(t).AppendCommunityID(b), nil
}

func (m *macText) AppendText(b []byte) ([]byte, error) {
	for i, c := range m {
		if i > 0 {
			b = append(b, ':')
		}
		b = hex.AppendEncode(b, []byte{c})
	}
	return b, nil
}

// AppendText appends the history letters to b; it never fails.
func (h *History) AppendText(b []byte) ([]byte, error) { return h.AppendTo(b), nil }

var _ Record = (*FlowRecord)(nil)
