package flowscope

import "github.com/flowscope-go/flowscope/flowkey"

// Packet is one captured frame.
type Packet struct {
	// Data is the captured bytes, starting at the link-layer header. It is
	// borrowed: valid until the batch that holds it is released (or, for a
	// single packet, until the call it was passed to returns). Copy what
	// you keep.
	Data []byte
	// Time is the capture time, in Unix nanoseconds.
	Time int64
	// Length is the frame's original length on the wire; Data may be
	// shorter when the capture was cut by the snap length.
	Length int
	// LinkType tells how to decode Data.
	LinkType flowkey.LinkType
	// Interface is the capture interface index (pcapng), 0 otherwise.
	Interface int
}

// Side names one direction of a flow.
type Side uint8

const (
	// Orig is the originator: the sender of the flow's first packet (or the
	// receiver of a first SYN-ACK).
	Orig Side = 0
	// Resp is the responder.
	Resp Side = 1
)

// Other returns the opposite side.
func (s Side) Other() Side { return 1 - s }

func (s Side) String() string {
	if s == Orig {
		return "orig"
	}
	return "resp"
}

// Key is what a flow key must be: comparable, so it can key a map, and
// hashable in a way that does not depend on direction or process, so a
// flow always lands on the same shard.
type Key interface {
	comparable
	Hash() uint64
}

// Extractor derives a flow key from a decoded packet. Extract fills key
// and returns whether the packet travels in the key's forward direction,
// and ok false when the packet belongs to no flow of this kind (key is
// then unspecified). It fills caller-owned memory rather than returning
// the key, sparing a copy of the key on every packet. An Extractor is
// called from one goroutine at a time per tracker and must keep neither d
// nor key.
//
// flowkey provides FiveTupleExtractor, IPPairExtractor and
// MACPairExtractor.
type Extractor[K Key] interface {
	Extract(d *flowkey.Decoded, key *K) (forward, ok bool)
}

// ExtractorFunc adapts a function to the Extractor interface.
type ExtractorFunc[K Key] func(d *flowkey.Decoded, key *K) (forward, ok bool)

// Extract calls f(d, key).
func (f ExtractorFunc[K]) Extract(d *flowkey.Decoded, key *K) (bool, bool) { return f(d, key) }

var (
	_ Extractor[flowkey.FiveTuple] = flowkey.FiveTupleExtractor{}
	_ Extractor[flowkey.IPPair]    = flowkey.IPPairExtractor{}
	_ Extractor[flowkey.MACPair]   = flowkey.MACPairExtractor{}
)
