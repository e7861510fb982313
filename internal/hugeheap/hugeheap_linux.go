package hugeheap

import (
	"os"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// hugePage is the size of a transparent huge page on the platforms Linux
// runs Go on with 4 KiB base pages.
const hugePage = 2 << 20

// advise marks the whole huge pages inside b with MADV_HUGEPAGE and
// returns how many bytes that covers.
func advise(b []byte) int {
	if !available() {
		return 0
	}
	start := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	lo := (start + hugePage - 1) &^ (hugePage - 1)
	hi := (start + uintptr(len(b))) &^ (hugePage - 1)
	if hi <= lo {
		return 0
	}
	region := b[lo-start : hi-start]
	if unix.Madvise(region, unix.MADV_HUGEPAGE) != nil {
		return 0
	}
	return len(region)
}

// available reports whether the kernel gives huge pages to memory that
// asks for them ("always" or "madvise" mode).
func available() bool {
	mode, err := os.ReadFile("/sys/kernel/mm/transparent_hugepage/enabled")
	if err != nil {
		return false
	}
	return !strings.Contains(string(mode), "[never]")
}
