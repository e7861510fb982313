// Package flowscope is the synchronous core of flowscope: it turns
// packets into records, one packet at a time, with no goroutines and no
// channels. Anyone can drive it from a plain loop: Track a packet, get
// the records it completed.
//
// The Driver is its one entry point. It groups packets into
// bidirectional flows (keyed by an Extractor: 5-tuple, IP pair, MAC pair
// or one of your own), runs a TCP state machine that derives Zeek's
// conn_state and history, counts packets and bytes per side, reassembles
// each TCP connection's two byte streams and puts them in causal order,
// and runs the protocol parsers it is given on them: SessionParsers on
// TCP connections, DatagramParsers on UDP flows, each with its own
// message type, found by content. Flows end on FIN or RST, idle timeouts,
// table eviction and end of input, each with a conn record (*FlowRecord).
//
// Everything it produces is a Record: a self-describing value, with a
// Schema (its kind, the Zeek log path, and its typed fields) and its
// Values, so that an encoder (package sink) writes any record, a user's
// parsers' too, without knowing its Go type. Streaming, sharding and
// output live in the stage and sink packages; packet sources in source;
// the built-in parsers under parsers.
//
// # Usage
//
//	d := flowscope.NewDriver(flowkey.FiveTupleExtractor{}, &flowscope.Config{Parsers: parsers.All()})
//	var recs []flowscope.Record
//	for each packet p {
//		recs = d.Track(&p, recs[:0])
//		// handle recs: *flowscope.FlowRecord, *http1.Transaction, ...
//	}
//	recs = d.Flush(flowscope.EndOfInput, recs[:0])
//
// # Parsers of your own
//
// A parser implements SessionParser[M] (TCP) or DatagramParser[M] (UDP)
// for a message type M of its own that implements Record, usually with
// ConnSchema and Conn.AppendValues for the fields every record of a flow
// starts with; its factory goes to the Driver as Session(f) or
// Datagram(f), beside the built-in ones. It gives up on flows that are
// not its protocol by implementing Doner. parsertest checks a session
// parser against the contract, recordtest a record.
//
// # Time
//
// Times are Unix nanoseconds (int64) throughout: packet timestamps,
// record times, the clock. The Driver's clock is packet time: timeouts
// fire when packet timestamps (or Advance) pass them, never by the wall
// clock, so the same input gives the same output byte for byte.
//
// # Memory
//
// The flow table is bounded (Config.MaxFlows); a full table evicts the
// least recently seen flow (to within a second of packet time) and says
// so in its record. Out-of-order TCP bytes are held within a per-side and
// a per-Driver budget. Tracking a packet of a known flow that completes
// no record allocates nothing.
package flowscope
