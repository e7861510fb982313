package source

import (
	"errors"
	"time"
)

// LiveConfig configures a live capture (OpenLive).
type LiveConfig struct {
	// Interface is the network interface to capture on; "any" captures
	// on every interface, packets without their link-layer headers (raw
	// IP, as a SOCK_DGRAM socket gives them; the loopback interface's
	// copies of packets as sent are dropped).
	Interface string
	// Filter is a capture filter expression (package filter), run in the
	// kernel; empty captures everything.
	Filter string
	// Promiscuous puts the interface in promiscuous mode while capturing.
	Promiscuous bool
	// SnapLen, when above zero, keeps at most that many bytes of each
	// packet (the kernel cuts them); the packet's Length stays its length
	// on the wire, so flow records still count every byte and TCP
	// reassembly counts what was cut as missed.
	SnapLen int
	// Sockets is the number of capture sockets. More than one joins them
	// in a PACKET_FANOUT group that spreads packets by a symmetric flow
	// hash (IPv4 fragments reassembled first), so that each socket can
	// feed a flow-tracking shard of its own. Zero means one.
	Sockets int
	// RingBytes is the size of each socket's kernel ring (rounded down to
	// whole blocks); zero means DefaultRingBytes. Packets arriving while
	// the ring is full are dropped by the kernel and counted (Stats).
	RingBytes int
	// BlockTimeout is how long the kernel fills a ring block before
	// handing it over part-full: the longest a packet waits in the ring
	// when traffic is light. Zero means DefaultBlockTimeout.
	BlockTimeout time.Duration
	// Tick is how often a source with no packets to deliver returns an
	// empty batch carrying the clock, so that timers run; zero means
	// DefaultTick.
	Tick time.Duration
	// MaxDelay bounds how long a packet waits in a part-full batch; zero
	// means DefaultMaxDelay.
	MaxDelay time.Duration
}

// Live capture defaults.
const (
	DefaultRingBytes    = 32 << 20
	DefaultBlockTimeout = 20 * time.Millisecond
	DefaultTick         = time.Second
	DefaultMaxDelay     = 100 * time.Millisecond
	// liveBlockBytes is the size of a ring block; it bounds the largest
	// packet captured whole (GRO and TSO hand over segments of up to 64
	// KiB on virtual and loopback interfaces).
	liveBlockBytes = 1 << 20
	liveFrameBytes = 1 << 16
	// liveLag is how far behind the wall clock a source's Now runs, so
	// that timers do not end a flow whose next packet is still in the
	// ring.
	liveLag = 500 * time.Millisecond
)

// ErrNoLive is returned by OpenLive where live capture is not available.
var ErrNoLive = errors.New("live capture needs Linux (AF_PACKET)")

func (c *LiveConfig) withDefaults() LiveConfig {
	o := *c
	if o.Sockets <= 0 {
		o.Sockets = 1
	}
	if o.RingBytes <= 0 {
		o.RingBytes = DefaultRingBytes
	}
	if o.BlockTimeout <= 0 {
		o.BlockTimeout = DefaultBlockTimeout
	}
	if o.Tick <= 0 {
		o.Tick = DefaultTick
	}
	if o.MaxDelay <= 0 {
		o.MaxDelay = DefaultMaxDelay
	}
	return o
}
