//go:build linux

// Command firsttouch measures what this machine charges for the first
// touch of fresh anonymous memory, in 4 KiB pages and in 2 MiB
// transparent huge pages (madvise), each mapped, touched once per 4 KiB,
// and unmapped, several times over: a virtual machine whose host backs
// guest memory lazily charges much more for memory the guest has not
// used before than for memory it has used and freed.
//
//	go run ./bench/firsttouch [-mb 256] [-rounds 3]
package main

import (
	"flag"
	"fmt"
	"os"
	"syscall"
	"time"
)

func main() {
	mb := flag.Int("mb", 256, "MiB to map and touch each time")
	rounds := flag.Int("rounds", 3, "rounds of each page size")
	flag.Parse()
	n := *mb << 20
	for r := range *rounds {
		for _, huge := range []bool{true, false} {
			// 2 MiB more than asked, so that n bytes of whole huge pages fit.
			b, err := syscall.Mmap(-1, 0, n+2<<20, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
			if err != nil {
				fmt.Fprintln(os.Stderr, "firsttouch:", err)
				os.Exit(1)
			}
			if huge {
				if err := syscall.Madvise(b, 14); err != nil { // MADV_HUGEPAGE
					fmt.Fprintln(os.Stderr, "firsttouch: madvise:", err)
				}
			}
			t := time.Now()
			for i := 0; i < n; i += 4096 {
				b[i] = 1
			}
			d := time.Since(t)
			kind := "4 KiB pages"
			if huge {
				kind = "2 MiB pages"
			}
			fmt.Printf("round %d, %s: %v for %d MiB, %.0f us a MiB\n", r+1, kind, d.Round(time.Millisecond), *mb, float64(d.Microseconds())/float64(*mb))
			if err := syscall.Munmap(b); err != nil {
				fmt.Fprintln(os.Stderr, "firsttouch:", err)
				os.Exit(1)
			}
		}
	}
}
