package flowkey

import (
	"encoding/binary"
	"time"
)

// Defragmenter reassembles IPv4 and IPv6 datagrams from their fragments.
// It is bounded: datagrams in flight, bytes per datagram, and a timeout in
// packet time after which an incomplete datagram is dropped and counted.
// Overlapping fragments keep the bytes that arrived first (counted in
// Overlaps; differing bytes in Inconsistent).
//
// The zero Defragmenter uses the defaults. It is not safe for concurrent
// use.
type Defragmenter struct {
	// MaxDatagrams bounds the datagrams being reassembled; a new one beyond
	// it drops the oldest. Zero means 1,024.
	MaxDatagrams int
	// MaxBytes bounds one datagram's payload. Zero means 65,535.
	MaxBytes int
	// Timeout is how long, in packet time, a datagram may wait for its
	// missing fragments. Zero means 30 seconds.
	Timeout time.Duration

	pending []*datagram
	free    []*datagram
	out     []byte // the last datagram returned, reused
	stats   DefragStats
}

// DefragStats counts what the Defragmenter did.
type DefragStats struct {
	Fragments    uint64 // fragments given to Add
	Reassembled  uint64 // datagrams completed
	TimedOut     uint64 // datagrams dropped incomplete at their timeout
	Evicted      uint64 // datagrams dropped because too many were in flight
	TooBig       uint64 // fragments beyond MaxBytes
	Overlaps     uint64 // fragments that overlapped bytes already held
	Inconsistent uint64 // overlaps whose bytes differed
}

type fragKey struct {
	src, dst Addr
	id       uint32
	proto    uint8
	v6       bool
}

type datagram struct {
	key     fragKey
	header  []byte // a copy of the first fragment's IP header
	data    []byte // payload, indexed by offset
	have    []span // byte ranges received, sorted, merged
	total   int    // payload length, known once the last fragment came; -1 before
	first   int64  // time of the first fragment
	hasHead bool   // the fragment at offset 0 came (its header is the one used)
}

type span struct{ lo, hi int }

// Stats returns the counters.
func (f *Defragmenter) Stats() DefragStats { return f.stats }

// Pending returns the number of datagrams being reassembled.
func (f *Defragmenter) Pending() int { return len(f.pending) }

// Add takes one fragment, described by d (as Decode left it, with
// d.Fragment set), seen at ts (Unix ns). When the fragment completes its
// datagram, Add returns the whole datagram, IP header included, ready to
// decode as raw IP; the bytes are valid until the next call to Add.
func (f *Defragmenter) Add(d *Decoded, ts int64) ([]byte, bool) {
	f.stats.Fragments++
	f.expire(ts)
	maxBytes := f.MaxBytes
	if maxBytes <= 0 {
		maxBytes = 65535
	}
	fr := &d.Frag
	off, data := int(fr.Offset), d.Payload
	end := off + len(data)
	if end > maxBytes {
		f.stats.TooBig++
		return nil, false
	}
	key := fragKey{src: d.Src, dst: d.Dst, id: fr.ID, proto: fr.NextHeader, v6: d.IPVersion == 6}
	dg := f.find(key)
	if dg == nil {
		dg = f.start(key, ts)
	}
	if off == 0 && !dg.hasHead {
		dg.header = append(dg.header[:0], fr.Header...)
		dg.hasHead = true
	}
	if !fr.More {
		dg.total = end
	}
	if len(dg.data) < end {
		dg.data = append(dg.data, make([]byte, end-len(dg.data))...)
	}
	// Copy only the bytes not held yet: the first to arrive win.
	cur := off
	for _, h := range dg.have {
		if h.hi <= cur || h.lo >= end {
			continue
		}
		f.stats.Overlaps++
		if lo, hi := max(h.lo, off), min(h.hi, end); lo < hi &&
			string(dg.data[lo:hi]) != string(data[lo-off:hi-off]) {
			f.stats.Inconsistent++
		}
		if h.lo > cur {
			copy(dg.data[cur:h.lo], data[cur-off:h.lo-off])
		}
		cur = max(cur, h.hi)
	}
	if cur < end {
		copy(dg.data[cur:end], data[cur-off:])
	}
	dg.have = addSpan(dg.have, span{off, end})
	if dg.total < 0 || !dg.hasHead || len(dg.have) != 1 || dg.have[0].lo != 0 || dg.have[0].hi < dg.total {
		return nil, false
	}
	f.stats.Reassembled++
	f.out = dg.assemble(f.out[:0])
	f.remove(dg)
	return f.out, true
}

// assemble writes the datagram: its header with the lengths and fragment
// fields fixed, then the payload.
func (dg *datagram) assemble(b []byte) []byte {
	payload := dg.data[:dg.total]
	if dg.key.v6 {
		b = append(b, dg.header[:40]...)
		binary.BigEndian.PutUint16(b[4:6], uint16(len(payload)))
		b[6] = dg.key.proto // the extension headers before the fragment header are left out
		return append(b, payload...)
	}
	b = append(b, dg.header...)
	binary.BigEndian.PutUint16(b[2:4], uint16(len(dg.header)+len(payload)))
	binary.BigEndian.PutUint16(b[6:8], binary.BigEndian.Uint16(b[6:8])&0x4000) // keep DF only
	b[10], b[11] = 0, 0                                                        // the checksum no longer holds
	return append(b, payload...)
}

func addSpan(have []span, s span) []span {
	out := have[:0:0]
	for _, h := range have {
		if h.hi < s.lo || h.lo > s.hi {
			out = append(out, h)
			continue
		}
		s = span{min(s.lo, h.lo), max(s.hi, h.hi)}
	}
	out = append(out, s)
	for i := len(out) - 1; i > 0 && out[i].lo < out[i-1].lo; i-- {
		out[i], out[i-1] = out[i-1], out[i]
	}
	return out
}

func (f *Defragmenter) find(k fragKey) *datagram {
	for _, dg := range f.pending {
		if dg.key == k {
			return dg
		}
	}
	return nil
}

func (f *Defragmenter) start(k fragKey, ts int64) *datagram {
	limit := f.MaxDatagrams
	if limit <= 0 {
		limit = 1024
	}
	if len(f.pending) >= limit {
		f.stats.Evicted++
		f.remove(f.pending[0])
	}
	var dg *datagram
	if n := len(f.free); n > 0 {
		dg, f.free = f.free[n-1], f.free[:n-1]
	} else {
		dg = &datagram{}
	}
	*dg = datagram{key: k, header: dg.header[:0], data: dg.data[:0], have: dg.have[:0], total: -1, first: ts}
	f.pending = append(f.pending, dg)
	return dg
}

func (f *Defragmenter) remove(dg *datagram) {
	for i, p := range f.pending {
		if p == dg {
			f.pending = append(f.pending[:i], f.pending[i+1:]...)
			break
		}
	}
	if len(f.free) < 64 {
		f.free = append(f.free, dg)
	}
}

// expire drops datagrams older than the timeout at now.
func (f *Defragmenter) expire(now int64) {
	timeout := int64(f.Timeout)
	if timeout <= 0 {
		timeout = int64(30 * time.Second)
	}
	for len(f.pending) > 0 && now-f.pending[0].first > timeout {
		f.stats.TimedOut++
		f.remove(f.pending[0])
	}
}

// Flush drops every incomplete datagram, counting them as timed out; for
// the end of input.
func (f *Defragmenter) Flush() {
	for len(f.pending) > 0 {
		f.stats.TimedOut++
		f.remove(f.pending[0])
	}
}
