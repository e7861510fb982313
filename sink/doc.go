// Package sink delivers events out of a pipeline: encoders and writers
// (JSON Lines with Zeek's field names), fan-out to several sinks at once,
// and channel and callback sinks for Go programs.
//
// A Sink receives batches of events from one goroutine (the stage that
// drives it). Items are valid only during Write: a sink that keeps an
// event copies it.
package sink
