// Package stage runs typed stage graphs: stages connected by bounded
// channels, all running under one errgroup and one context. It provides
// the standard stages (map, filter, tee, merge, partition), adapters to
// packet sources and sinks, and the flow-tracking stage that shards
// packets by flow over several trackers.
//
// It is the streaming layer over the synchronous core in package
// flowscope: each domain stage is a thin loop around a Tracker. It is not
// a general dataflow engine; graphs are built once and run once.
//
// # Usage
//
//	g := stage.New(nil)
//	pkts := stage.FromSource(g, "read", src)
//	events, stats := stage.TrackFlows(g, "track", pkts, 4, nil)
//	stage.To(g, "write", events, sink.NewZeek(os.Stdout))
//	err := g.Run(ctx)
//
// A builder function adds a stage and returns its output Port; every Port
// must be consumed by exactly one later stage, or Run refuses to start.
//
// # Concurrency
//
// Each stage runs in its own goroutine. Run returns after every stage has
// returned: at the end of input, when all stages drained, or at the first
// error, which cancels the others. A panic in a stage is recovered and
// becomes Run's error, naming the stage.
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
// consumers, which must not modify it.
//
// # Time
//
// Each batch carries a watermark: the time up to which the input is
// complete. Partition forwards it to every shard, so that idle flows
// expire on every shard at the same packet time, and the records do not
// depend on the number of shards.
package stage
