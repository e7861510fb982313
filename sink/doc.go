// Package sink delivers records out of a pipeline: encoders that write
// any flowscope.Record in a format (ZeekJSON: Zeek's JSON logs), Lines
// that writes encoded records one a line, Transcripts that writes TCP
// conversations to files, Pcap that saves packets, fan-out to several
// sinks at once (Tee), and channel and callback sinks for Go programs.
//
// Encoders know formats, not record types: a record describes itself
// (its Schema and its Values), so a user's parser's records are written
// like the built-in ones. Built-in records may have hand-written
// encodings for speed, held to their schemas by package recordtest.
//
// A Sink receives batches of items from one goroutine (the stage that
// drives it). Items are valid only during Write: a sink that keeps an
// item that is not a record copies it.
package sink
