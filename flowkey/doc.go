// Package flowkey decodes packet headers into the fields that identify a
// flow, and turns those fields into flow keys: the bidirectional 5-tuple,
// the IP pair and the MAC pair. It also computes Community ID v1 hashes.
//
// It is the per-packet front end of flow tracking, so it allocates nothing:
// a Decoder fills a caller-owned Decoded, and keys are fixed-size,
// pointer-free values usable directly as map keys. It does not keep state
// across packets; flow state lives in the root flowscope package.
//
// # Usage
//
//	var dec flowkey.Decoder
//	var d flowkey.Decoded
//	if err := dec.Decode(flowkey.LinkEthernet, frame, &d); err != nil {
//		// err is one of the sentinel errors below: count it and move on.
//	}
//	key, forward := flowkey.FiveTupleOf(&d)
//
// # Byte ownership
//
// Decoded.Payload points into the frame passed to Decode; it is valid as
// long as the frame is.
package flowkey
