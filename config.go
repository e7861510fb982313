package flowscope

import (
	"time"

	"github.com/flowscope-go/flowscope/flowkey"
)

// Config sets a Driver's parsers, timeouts and bounds. The zero Config
// means all defaults and no parsers (flow records only); a nil *Config
// passed to NewDriver does too.
type Config struct {
	// Parsers are the protocol parsers run on every flow (see Session and
	// Datagram). Each finds its protocol by content and gives up on flows
	// that are not of it; their records come out with the flow records.
	// None by default.
	Parsers []Parser

	// TCPEstablishedTimeout is how long a quiet TCP flow that carried a
	// handshake or data is kept. Zero means 5 minutes.
	TCPEstablishedTimeout time.Duration
	// TCPAttemptTimeout is how long a quiet TCP flow that never got past
	// its handshake is kept. Zero means 30 seconds.
	TCPAttemptTimeout time.Duration
	// TCPCloseLinger is how long a TCP flow is kept after both sides sent
	// FIN or one sent RST, so that the last ACKs and retransmissions stay
	// in the flow. Zero means 5 seconds.
	TCPCloseLinger time.Duration
	// UDPTimeout is how long a quiet UDP flow is kept. Zero means 1 minute.
	UDPTimeout time.Duration
	// OtherTimeout is how long a quiet flow of any other protocol is kept.
	// Zero means 1 minute.
	OtherTimeout time.Duration
	// MaxFlows bounds the flow table. When it is full, the least recently
	// seen flow (to within a second of packet time) is ended with reason
	// EndEvicted. Zero means 1,000,000; at most 2^26-1 (67M) flows are
	// kept per Driver, a larger value counts as that.
	MaxFlows int

	// MemoryBudget, when set, bounds the memory a Driver's flows hold, in
	// bytes, as charged: flowMemory (256 B) a flow in the table,
	// connMemory (2 KiB) more a TCP connection once it has stream
	// handlers (its reassembly state, the causal orderer and the session
	// parsers), datagramMemory (640 B) more a UDP flow with datagram
	// parsers. The charges are what the built-in parsers take, measured
	// (BenchmarkFloodMemory) and held by a test; parsers of your own
	// may take more. Reaching it ends the least recently seen flows
	// (reason EndEvicted, counted in Stats.MemoryEvicted) as a full
	// table does. The bytes buffered for reassembly and causal order
	// are bounded apart, by ReassemblyBudget; what the parsers hold
	// (pending requests and queries, certificates) by each parser's own
	// bounds a connection. Zero means no bound but MaxFlows.
	MemoryBudget int

	// MaxBufferPerSide bounds the out-of-order bytes held for one side of
	// one TCP connection. Reaching it gives up the oldest hole (a gap).
	// Zero means 1 MiB.
	MaxBufferPerSide int
	// ReassemblyBudget bounds the out-of-order bytes held across all TCP
	// connections of a Driver, in bytes. Reaching it gives up holes as
	// MaxBufferPerSide does. Zero means 256 MiB.
	ReassemblyBudget int
	// ReorderPackets and ReorderWindow bound how long a hole the peer
	// has acknowledged waits for its bytes: capture points reorder
	// across directions (multi-queue NICs, "any" devices, taps and SPAN
	// ports merging two links), so a data segment may show up after the
	// acknowledgement that covers it and after the sender's next
	// segment. The hole is filled if its bytes come within
	// ReorderPackets packets of the connection and ReorderWindow of
	// packet time after the acknowledgement; then it is declared a gap
	// (as far as the acknowledgement goes), and what is buffered behind
	// it goes on. What waits counts against MaxBufferPerSide and
	// ReassemblyBudget as any out-of-order data does. Zero means 64
	// packets and 1 second; a negative value, no wait (the hole is
	// declared with the packet that shows it).
	ReorderPackets int
	ReorderWindow  time.Duration
	// Overlap decides which bytes win when buffered segments overlap.
	// The zero value is FirstWins.
	Overlap OverlapPolicy
	// CompareRetransmissions is how many recently delivered bytes per side
	// are kept, copied, to compare retransmissions with: those that
	// differ are counted as Inconsistent. Zero means none are kept, and
	// delivery copies nothing; retransmissions of delivered bytes are
	// then counted but not compared.
	CompareRetransmissions int
	// Fragments bounds IP fragment reassembly, which happens before flow
	// tracking: datagrams in flight (default 1,024; beyond it the oldest
	// is dropped), bytes per datagram (default 65,535) and how long, in
	// packet time, a datagram may wait for its missing fragments (default
	// 30 s). Overlapping fragments keep the bytes that came first. Its
	// counters are in Stats; any state set in it is ignored.
	Fragments flowkey.Defragmenter
}

// Defaults of Config.
const (
	DefaultTCPEstablishedTimeout = 5 * time.Minute
	DefaultTCPAttemptTimeout     = 30 * time.Second
	DefaultTCPCloseLinger        = 5 * time.Second
	DefaultUDPTimeout            = time.Minute
	DefaultOtherTimeout          = time.Minute
	DefaultMaxFlows              = 1_000_000
	DefaultMaxBufferPerSide      = 1 << 20
	DefaultReassemblyBudget      = 256 << 20
	DefaultReorderPackets        = 64
	DefaultReorderWindow         = time.Second
)

// What Config.MemoryBudget charges: a flow in the table (its entry,
// table slots, TCP state and links), a TCP connection's stream handlers
// with the built-in parsers, a UDP flow's datagram parsers.
const (
	flowMemory     = 256
	connMemory     = 2048
	datagramMemory = 640
)

// OverlapPolicy decides which bytes win when buffered out-of-order
// segments overlap.
type OverlapPolicy uint8

const (
	// FirstWins keeps the bytes received first (the default, and what most
	// end hosts do).
	FirstWins OverlapPolicy = iota
	// LastWins replaces buffered bytes with those received last.
	LastWins
)

// Stats counts what a Driver saw. Counters only grow.
type Stats struct {
	// Packets is every packet given to Track.
	Packets uint64
	// Flows is the number of flows started.
	Flows uint64
	// Packets that belong to no flow, by reason.
	UnsupportedLink uint64 // link type the decoder does not know
	NotIP           uint64 // ARP, LLDP and other non-IP frames
	Truncated       uint64 // a header cut short by the snap length
	Malformed       uint64 // an impossible header field
	Fragments       uint64 // IP fragments held for reassembly (see Reassembled)
	NoKey           uint64 // decoded, but the extractor gave no key
	// Evicted counts flows ended because the table was full, or the
	// flows' memory reached Config.MemoryBudget (MemoryEvicted of them).
	Evicted, MemoryEvicted uint64
	// Shed under load (Driver.SetShed): ShedParsers counts flows started
	// without their parsers, ShedPackets packets not tracked because
	// they would have started a flow.
	ShedParsers, ShedPackets uint64
	// BoundGaps counts gaps declared because a reassembly bound was
	// reached (MaxBufferPerSide or ReassemblyBudget).
	BoundGaps uint64
	// Reassembled counts IP datagrams rebuilt from fragments (each
	// tracked as one packet); Fragments above counts the fragments held
	// until then, or dropped.
	Reassembled uint64
	// FragmentsDropped counts datagrams given up on incomplete: their
	// timeout passed, too many were in flight, they grew beyond the
	// bound, or the input ended. FragmentOverlaps counts fragments that
	// overlapped bytes already held (the first to arrive win).
	FragmentsDropped, FragmentOverlaps uint64
	// TimeBackwards counts packets earlier than the packet before them;
	// they count as seen at the clock's time. TimeSteps counts jumps of
	// the capture's clock: forward by more than the longest timeout (the
	// timers moved by that much, ending every open flow as idle), or back
	// by more than 10 seconds (the timers go on from the new time). A
	// flow's record keeps its packets' own times.
	TimeBackwards, TimeSteps uint64
}

// Add adds the counters of o to s.
func (s *Stats) Add(o Stats) {
	s.Packets += o.Packets
	s.Flows += o.Flows
	s.UnsupportedLink += o.UnsupportedLink
	s.NotIP += o.NotIP
	s.Truncated += o.Truncated
	s.Malformed += o.Malformed
	s.Fragments += o.Fragments
	s.NoKey += o.NoKey
	s.Evicted += o.Evicted
	s.MemoryEvicted += o.MemoryEvicted
	s.ShedParsers += o.ShedParsers
	s.ShedPackets += o.ShedPackets
	s.BoundGaps += o.BoundGaps
	s.Reassembled += o.Reassembled
	s.FragmentsDropped += o.FragmentsDropped
	s.FragmentOverlaps += o.FragmentOverlaps
	s.TimeBackwards += o.TimeBackwards
	s.TimeSteps += o.TimeSteps
}

// Skipped returns the number of packets that belong to no flow.
func (s *Stats) Skipped() uint64 {
	return s.UnsupportedLink + s.NotIP + s.Truncated + s.Malformed + s.Fragments + s.NoKey + s.ShedPackets
}
