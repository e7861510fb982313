// Package hugeheap asks the kernel to back the first part of the Go heap
// with transparent huge pages.
//
// Go's heap grows in 4 KiB pages, each faulted in on first touch. On the
// virtual machines flowscope is measured on, a fault costs 13 us, and
// faults taken by two threads at once do not run in parallel: the
// analysis of a 1.3 GB capture took 25,000 of them, a sixth of its CPU
// time. Linux in its default "madvise" mode gives huge pages only to
// memory that asked for them, and the Go runtime does not ask. Reserve
// maps a region of the heap, marks it for huge pages, and frees it: the
// heap then grows into it a 2 MiB page per fault.
//
// It is for programs (cmd/flowscope), not libraries: it changes how the
// whole process's memory is backed. Huge pages can raise the resident
// size a little, since a partly used 2 MiB page counts whole.
package hugeheap

import (
	"os"
	"runtime"
	"strings"
)

// Reserve marks about n bytes of heap for huge pages and returns how many
// it marked: zero where the system has no transparent huge pages, where
// GODEBUG has disablethp=1 (the runtime's own switch for this), in a
// build with the race detector, or when the kernel refused. It allocates n bytes without touching them, marks
// them, drops them and runs a garbage collection, so call it once, at
// the start of the program, before the heap has grown.
func Reserve(n int) int {
	if n <= 0 || raceEnabled || disabled(os.Getenv("GODEBUG")) {
		return 0
	}
	b := make([]byte, n)
	marked := advise(b)
	runtime.KeepAlive(b)
	b = nil
	runtime.GC()
	return marked
}

// disabled reports whether godebug sets disablethp=1.
func disabled(godebug string) bool {
	for kv := range strings.SplitSeq(godebug, ",") {
		if strings.TrimSpace(kv) == "disablethp=1" {
			return true
		}
	}
	return false
}
