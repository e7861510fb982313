package sink

import (
	"bufio"
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"strconv"

	"github.com/flowscope-go/flowscope"
	"github.com/flowscope-go/flowscope/flowkey"
)

// Zeek writes flow records as JSON Lines with Zeek's conn.log field names,
// one object per ended flow. Start events are skipped.
//
// Fields, in order: _path ("conn"), ts, uid, id.orig_h, id.orig_p,
// id.resp_h, id.resp_p, proto, duration, orig_bytes, resp_bytes (these
// three only when the duration is positive, as Zeek does), conn_state,
// missed_bytes, history (when not empty), orig_pkts, orig_ip_bytes,
// resp_pkts, resp_ip_bytes, ip_proto, vlan (when tagged), orig_l2_addr and
// resp_l2_addr (non-IP flows only), community_id, end_reason.
//
// The zero Zeek is not usable; create one with NewZeek.
type Zeek struct {
	w   *bufio.Writer
	buf []byte
}

// NewZeek returns a sink writing to w through a buffer. Flush writes the
// buffer out; closing w is the caller's job. When w is a *bufio.Writer it
// is used as the buffer: sinks driven by one goroutine (stage.ToPair) can
// share one and their lines interleave whole.
func NewZeek(w io.Writer) *Zeek {
	return &Zeek{w: buffered(w), buf: make([]byte, 0, 1024)}
}

func buffered(w io.Writer) *bufio.Writer {
	if bw, ok := w.(*bufio.Writer); ok {
		return bw
	}
	return bufio.NewWriterSize(w, 64<<10)
}

// Write encodes the ended flows among evs.
func (z *Zeek) Write(_ context.Context, evs []flowscope.FlowEvent) error {
	for i := range evs {
		if evs[i].Kind != flowscope.FlowEnded {
			continue
		}
		z.buf = AppendConn(z.buf[:0], &evs[i].Flow)
		z.buf = append(z.buf, '\n')
		if _, err := z.w.Write(z.buf); err != nil {
			return fmt.Errorf("write conn record: %w", err)
		}
	}
	return nil
}

// Flush writes buffered records to the underlying writer.
func (z *Zeek) Flush() error {
	if err := z.w.Flush(); err != nil {
		return fmt.Errorf("flush conn records: %w", err)
	}
	return nil
}

var _ Sink[flowscope.FlowEvent] = (*Zeek)(nil)

// ProtoName returns Zeek's name for an IP protocol: "tcp", "udp", "icmp"
// (ICMP and ICMPv6), or "unknown_transport".
func ProtoName(p uint8) string {
	switch p {
	case flowkey.ProtoTCP:
		return "tcp"
	case flowkey.ProtoUDP:
		return "udp"
	case flowkey.ProtoICMP, flowkey.ProtoICMPv6:
		return "icmp"
	}
	return "unknown_transport"
}

// AppendConn appends r as one JSON object (no newline) in Zeek's conn.log
// schema. It allocates nothing.
func AppendConn(b []byte, r *flowscope.FlowRecord) []byte {
	b = append(b, `{"_path":"conn","ts":`...)
	b = appendSeconds(b, r.First)
	b = append(b, `,"uid":"`...)
	b = r.AppendUID(b)
	b = append(b, `","id.orig_h":"`...)
	b = appendAddr(b, r, &r.Orig)
	b = append(b, `","id.orig_p":`...)
	b = strconv.AppendUint(b, uint64(r.Orig.Port), 10)
	b = append(b, `,"id.resp_h":"`...)
	b = appendAddr(b, r, &r.Resp)
	b = append(b, `","id.resp_p":`...)
	b = strconv.AppendUint(b, uint64(r.Resp.Port), 10)
	b = append(b, `,"proto":"`...)
	b = append(b, ProtoName(r.Proto)...)
	b = append(b, '"')
	if d := r.Last - r.First; d > 0 {
		b = append(b, `,"duration":`...)
		b = appendSeconds(b, d)
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
		b = append(b, `,"tunnel_parents":["`...)
		b = append(b, r.TunnelParent[:]...)
		b = append(b, `"]`...)
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

func appendAddr(b []byte, r *flowscope.FlowRecord, e *flowscope.Endpoint) []byte {
	if r.IPVersion == 0 {
		return b
	}
	return e.Addr.AppendTo(b)
}

// appendSeconds appends ns as seconds with six decimals, as Zeek's JSON
// writer prints times and intervals.
func appendSeconds(b []byte, ns int64) []byte {
	if ns < 0 {
		b = append(b, '-')
		ns = -ns
	}
	us := ns / 1e3
	b = strconv.AppendInt(b, us/1e6, 10)
	b = append(b, '.')
	frac := us % 1e6
	for d := int64(100000); d > 0; d /= 10 {
		b = append(b, byte('0'+frac/d%10))
	}
	return b
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
