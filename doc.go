// Package flowscope is the synchronous core of flowscope: it turns packets
// into bidirectional flows, one packet at a time, with no goroutines and no
// channels. Anyone can drive it from a plain loop: Track a packet, get the
// flow events it caused.
//
// The package holds the vocabulary shared by the rest of the module
// (Packet, Side, Extractor, FlowRecord, FlowEvent) and the flow Tracker,
// which runs a TCP state machine, derives Zeek's conn_state and history,
// counts packets and bytes per side, and ends flows on FIN/RST, idle
// timeouts, table eviction and end of input. Streaming, sharding and
// output live in the stage and sink packages; packet sources in source.
//
// # Usage
//
//	t := flowscope.NewTracker(flowkey.FiveTupleExtractor{}, nil)
//	var events []flowscope.FlowEvent
//	for each packet p {
//		events = t.Track(&p, events[:0])
//		// handle events
//	}
//	events = t.Flush(flowscope.EndOfInput, events[:0])
//
// # Time
//
// The tracker's clock is packet time: timeouts fire when packet
// timestamps (or Advance) pass them, never by the wall clock, so the same
// input gives the same output byte for byte.
//
// # Memory
//
// The flow table is bounded (Config.MaxFlows); a full table evicts the
// least recently seen flow (to within a second of packet time) and says so
// in its record. Tracking a packet of a known flow allocates nothing.
package flowscope
