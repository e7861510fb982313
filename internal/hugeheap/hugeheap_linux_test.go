package hugeheap

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"unsafe"
)

// TestHeapGrowsIntoMarkedRegion checks what Reserve is for: memory the
// heap hands out afterwards lies in a mapping marked for huge pages
// ("hg" in /proc/self/smaps).
func TestHeapGrowsIntoMarkedRegion(t *testing.T) {
	if !available() {
		t.Skip("transparent huge pages are off on this system")
	}
	if disabled(os.Getenv("GODEBUG")) {
		t.Skip("GODEBUG has disablethp=1")
	}
	if raceEnabled {
		t.Skip("Reserve does nothing under the race detector")
	}
	const n = 64 << 20
	marked := Reserve(n)
	if marked < n-2*hugePage {
		t.Fatalf("Reserve(%d) marked %d bytes, want at least %d", n, marked, n-2*hugePage)
	}
	// The block may start in the part of the region before its first
	// whole huge page; its middle is past it.
	b := make([]byte, 8<<20)
	addr := uintptr(unsafe.Pointer(unsafe.SliceData(b))) + uintptr(len(b)/2)
	flags, err := vmFlags(addr)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(" "+flags+" ", " hg ") {
		t.Errorf("mapping of a heap block allocated after Reserve has VmFlags %q, want hg among them", flags)
	}
}

// vmFlags returns the VmFlags line of the mapping holding addr.
func vmFlags(addr uintptr) (string, error) {
	smaps, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		return "", err
	}
	in := false
	for line := range strings.Lines(string(smaps)) {
		line = strings.TrimSpace(line)
		if lo, hi, ok := mappingRange(line); ok {
			in = uint64(addr) >= lo && uint64(addr) < hi
			continue
		}
		if in {
			if f, ok := strings.CutPrefix(line, "VmFlags:"); ok {
				return strings.TrimSpace(f), nil
			}
		}
	}
	return "", fmt.Errorf("no mapping in /proc/self/smaps holds %#x", addr)
}

// mappingRange parses the address range opening a mapping's entry.
func mappingRange(line string) (lo, hi uint64, ok bool) {
	r, _, _ := strings.Cut(line, " ")
	a, z, found := strings.Cut(r, "-")
	if !found {
		return 0, 0, false
	}
	lo, err1 := strconv.ParseUint(a, 16, 64)
	hi, err2 := strconv.ParseUint(z, 16, 64)
	return lo, hi, err1 == nil && err2 == nil
}
