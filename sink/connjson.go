package sink

import (
	"encoding/hex"
	"strconv"

	"github.com/flowscope-go/flowscope"
	"github.com/flowscope-go/flowscope/internal/zeekjson"
)

// appendConn appends a conn record as ZeekJSON writes it, by hand: it
// allocates nothing.
func appendConn(b []byte, r *flowscope.FlowRecord) []byte {
	b = append(b, `{"_path":"conn","ts":`...)
	b = zeekjson.AppendSeconds(b, r.First)
	b = append(b, `,"uid":"`...)
	b = r.AppendUID(b)
	b = append(b, '"')
	b = appendAddr(b, `,"id.orig_h":"`, r, &r.Orig)
	b = append(b, `,"id.orig_p":`...)
	b = strconv.AppendUint(b, uint64(r.Orig.Port), 10)
	b = appendAddr(b, `,"id.resp_h":"`, r, &r.Resp)
	b = append(b, `,"id.resp_p":`...)
	b = strconv.AppendUint(b, uint64(r.Resp.Port), 10)
	b = append(b, `,"proto":"`...)
	b = append(b, r.Transport()...)
	b = append(b, '"')
	if d := r.Last - r.First; d > 0 {
		b = append(b, `,"duration":`...)
		b = zeekjson.AppendSeconds(b, d)
		b = append(b, `,"orig_bytes":`...)
		b = strconv.AppendUint(b, r.Stats[flowscope.Orig].Bytes, 10)
		b = append(b, `,"resp_bytes":`...)
		b = strconv.AppendUint(b, r.Stats[flowscope.Resp].Bytes, 10)
	}
	b = append(b, `,"conn_state":"`...)
	b = append(b, r.State.String()...)
	b = append(b, `","missed_bytes":`...)
	b = strconv.AppendUint(b, r.MissedBytes, 10)
	if r.History.Len() > 0 {
		b = append(b, `,"history":"`...)
		b = r.History.AppendTo(b) // letters and '^' need no escaping
		b = append(b, '"')
	}
	b = append(b, `,"orig_pkts":`...)
	b = strconv.AppendUint(b, r.Stats[flowscope.Orig].Packets, 10)
	b = append(b, `,"orig_ip_bytes":`...)
	b = strconv.AppendUint(b, r.Stats[flowscope.Orig].IPBytes, 10)
	b = append(b, `,"resp_pkts":`...)
	b = strconv.AppendUint(b, r.Stats[flowscope.Resp].Packets, 10)
	b = append(b, `,"resp_ip_bytes":`...)
	b = strconv.AppendUint(b, r.Stats[flowscope.Resp].IPBytes, 10)
	if r.IPVersion != 0 {
		b = append(b, `,"ip_proto":`...)
		b = strconv.AppendUint(b, uint64(r.Proto), 10)
	}
	if r.TunnelParent[0] != 0 {
		b = append(b, `,"tunnel_parents":[`...)
		b = zeekjson.AppendString(b, r.TunnelParent[:])
		b = append(b, ']')
	}
	if r.VLAN != 0 {
		b = append(b, `,"vlan":`...)
		b = strconv.AppendUint(b, uint64(r.VLAN), 10)
	}
	if r.IPVersion == 0 {
		b = append(b, `,"orig_l2_addr":"`...)
		b = appendMAC(b, r.Orig.MAC)
		b = append(b, `","resp_l2_addr":"`...)
		b = appendMAC(b, r.Resp.MAC)
		b = append(b, '"')
	} else {
		b = append(b, `,"community_id":"`...)
		b = r.AppendCommunityID(b)
		b = append(b, '"')
	}
	b = append(b, `,"end_reason":"`...)
	b = append(b, r.Reason.String()...)
	return append(b, `"}`...)
}

// appendAddr appends key and an endpoint's address, for IP flows.
func appendAddr(b []byte, key string, r *flowscope.FlowRecord, e *flowscope.Endpoint) []byte {
	if r.IPVersion == 0 {
		return b
	}
	b = append(b, key...)
	b = e.Addr.AppendTo(b)
	return append(b, '"')
}

func appendMAC(b []byte, m [6]byte) []byte {
	for i, c := range m {
		if i > 0 {
			b = append(b, ':')
		}
		b = hex.AppendEncode(b, []byte{c})
	}
	return b
}
