package flowkey

import (
	"encoding/binary"
	"math/bits"
	"time"
)

// Defragmenter reassembles IPv4 and IPv6 datagrams from their fragments.
// It is bounded: datagrams in flight, bytes per datagram, and a timeout in
// packet time after which an incomplete datagram is dropped and counted.
// Overlapping fragments keep the bytes that arrived first (counted in
// Overlaps; differing bytes in Inconsistent).
//
// Each fragment costs time in proportion to its own bytes, whatever the
// datagrams in flight and the fragments already held: datagrams are
// found by a map, and the bytes held are a bitmap of the 8-byte units
// fragment offsets count in. A fragment that is not its datagram's last
// should be a whole number of units long (RFC 791, RFC 8200); a partial
// unit counts as held only once a fragment covers it whole, and until
// then a later fragment's bytes replace it (so too the partial unit that
// ends a datagram).
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

	index      map[fragKey]*datagram
	head, tail *datagram // in flight, oldest first
	free       []*datagram
	out        []byte // the last datagram returned, reused
	stats      DefragStats
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
	key        fragKey
	prev, next *datagram
	header     []byte   // a copy of the first fragment's IP header
	data       []byte   // payload, indexed by offset
	held       []uint64 // bitmap of the 8-byte units received
	nheld      int      // units set in held
	total      int      // payload length, known once the last fragment came; -1 before
	first      int64    // time of the first fragment
	hasHead    bool     // the fragment at offset 0 came (its header is the one used)
}

// Stats returns the counters.
func (f *Defragmenter) Stats() DefragStats { return f.stats }

// Pending returns the number of datagrams being reassembled.
func (f *Defragmenter) Pending() int { return len(f.index) }

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
	dg := f.index[key]
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
	// Unit by unit, copy the bytes not held yet: the first to arrive win.
	// Only whole units count as held; a datagram's partial last unit is
	// always covered by the fragment that ends it, which set total.
	if need := ((end+7)/8 + 63) / 64; len(dg.held) < need {
		dg.held = append(dg.held, make([]uint64, need-len(dg.held))...)
	}
	overlap, inconsistent := false, false
	for u := off / 8; u < (end+7)/8; u++ {
		// Offsets from the wire are whole units; one that is not (a
		// Decoded made by hand) leaves its first unit not held.
		lo, hi := max(u*8, off), min(u*8+8, end)
		if dg.held[u/64]&(1<<(u%64)) != 0 {
			overlap = true
			inconsistent = inconsistent || string(dg.data[lo:hi]) != string(data[lo-off:hi-off])
			continue
		}
		copy(dg.data[lo:hi], data[lo-off:hi-off])
		if lo == u*8 && hi == u*8+8 {
			dg.held[u/64] |= 1 << (u % 64)
			dg.nheld++
		}
	}
	if overlap {
		f.stats.Overlaps++
	}
	if inconsistent {
		f.stats.Inconsistent++
	}
	if !dg.complete() {
		return nil, false
	}
	f.stats.Reassembled++
	f.out = dg.assemble(f.out[:0])
	f.remove(dg)
	return f.out, true
}

// complete reports whether every whole unit below the datagram's length
// is held (the partial unit after them came with the last fragment).
func (dg *datagram) complete() bool {
	need := dg.total / 8
	if dg.total < 0 || !dg.hasHead || dg.nheld < need {
		return false
	}
	// Units beyond the end may be held too: count those below it.
	n := 0
	for _, w := range dg.held[:need/64] {
		n += bits.OnesCount64(w)
	}
	if r := need % 64; r > 0 {
		n += bits.OnesCount64(dg.held[need/64] & (1<<r - 1))
	}
	return n == need
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

func (f *Defragmenter) start(k fragKey, ts int64) *datagram {
	limit := f.MaxDatagrams
	if limit <= 0 {
		limit = 1024
	}
	if f.index == nil {
		f.index = make(map[fragKey]*datagram)
	}
	if len(f.index) >= limit {
		f.stats.Evicted++
		f.remove(f.head)
	}
	var dg *datagram
	if n := len(f.free); n > 0 {
		dg, f.free = f.free[n-1], f.free[:n-1]
	} else {
		dg = &datagram{}
	}
	clear(dg.held)
	*dg = datagram{key: k, prev: f.tail, header: dg.header[:0], data: dg.data[:0], held: dg.held[:0], total: -1, first: ts}
	if f.tail != nil {
		f.tail.next = dg
	} else {
		f.head = dg
	}
	f.tail = dg
	f.index[k] = dg
	return dg
}

func (f *Defragmenter) remove(dg *datagram) {
	delete(f.index, dg.key)
	if dg.prev != nil {
		dg.prev.next = dg.next
	} else {
		f.head = dg.next
	}
	if dg.next != nil {
		dg.next.prev = dg.prev
	} else {
		f.tail = dg.prev
	}
	dg.prev, dg.next = nil, nil
	if len(f.free) < 64 {
		f.free = append(f.free, dg)
	}
}

// expire drops datagrams older than the timeout at now. The list is in
// order of arrival, so the scan stops at the first datagram still in time.
func (f *Defragmenter) expire(now int64) {
	timeout := int64(f.Timeout)
	if timeout <= 0 {
		timeout = int64(30 * time.Second)
	}
	for f.head != nil && now-f.head.first > timeout {
		f.stats.TimedOut++
		f.remove(f.head)
	}
}

// Flush drops every incomplete datagram, counting them as timed out; for
// the end of input.
func (f *Defragmenter) Flush() {
	for f.head != nil {
		f.stats.TimedOut++
		f.remove(f.head)
	}
}
