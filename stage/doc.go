// Package stage runs typed stage graphs: stages connected by bounded
// channels, all running under one errgroup and one context. It provides
// the standard stages (map, filter, tee, merge, partition), adapters to
// packet sources and sinks, and Track, the one flow-tracking stage: a
// Driver (package flowscope) per shard, packets split between them by
// flow, and one output of records.
//
// It is the streaming layer over the synchronous core: Track is a thin
// loop around Drivers. It is not a general dataflow engine; graphs are
// built once and run once.
//
// # Usage
//
//	g := stage.New(nil)
//	pkts := stage.FromSource(g, "read", src)
//	recs, stats := stage.Track(g, "track", flowkey.FiveTupleExtractor{},
//		&stage.TrackConfig{Workers: 4, Driver: flowscope.Config{Parsers: parsers.All()}}, pkts)
//	stage.To(g, "write", recs, sink.NewLines(os.Stdout, &sink.ZeekJSON{}))
//	err := g.Run(ctx)
//
// Select takes the records of one Go type out of a port (HTTP
// transactions for a callback, conversation events for transcripts), Tee
// hands every batch to several stages, Drop consumes a port that is not
// wanted. A builder function adds a stage and returns its output Port;
// every Port must be consumed by exactly one later stage, or Run refuses
// to start.
//
// # Concurrency
//
// Each stage runs in its own goroutine. Run returns after every stage has
// returned: at the end of input, when all stages drained, or at the first
// error, which cancels the others. A panic in a stage is recovered and
// becomes Run's error, naming the stage. Nothing is sent after a
// cancellation, and Track flushes nothing then.
//
// # Backpressure
//
// Channels are bounded (Config.Buffer batches). A slow consumer blocks its
// producer, and so on back to the source, which simply reads later. Items
// travel in batches so that a channel hand-off is paid once per batch.
//
// # Batches
//
// Domain channels carry *Batch values drawn from pools. The receiver of a
// batch owns one reference and calls Release when done; a batch's packet
// bytes are valid until then. Tee hands the same batch to several
// consumers, which must not modify it. Records are the receiver's to keep
// beyond the batch.
//
// # Time
//
// Each batch carries a watermark: the time up to which the input is
// complete. The partition forwards it to every shard, so that idle flows
// expire on every shard at the same packet time, and the records do not
// depend on the number of shards.
package stage
