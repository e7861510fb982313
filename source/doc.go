// Package source provides packet sources: pcap and pcapng files (one or
// several, read in order as one stream), live capture on Linux (Live:
// AF_PACKET sockets with a kernel ring, fanout and a kernel filter) and
// in-memory packets, all behind one interface; and wrappers that filter
// (Filtered) or cut (Limit) what a source delivers.
//
// A source fills batches: it copies each packet into the batch's reusable
// buffer, so a batch holds its packets until it is reset, and reading
// allocates nothing in steady state. Sources report their own statistics.
//
// # Errors
//
// A file that cannot be read as a capture (missing, empty, not a capture,
// an unsupported link type, a record cut short) gives a *FileError naming
// the file, what is wrong and, where it applies, the packet number and
// byte offset. Packets read before the fault have already been delivered.
package source
