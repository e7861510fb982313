//go:build !unix

package sink

// openFileLimit returns a conservative limit on open files where the
// system offers no getrlimit.
func openFileLimit() uint64 { return 512 }
