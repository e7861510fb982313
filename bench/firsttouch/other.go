//go:build !linux

package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "firsttouch: Linux only (it measures transparent huge pages)")
	os.Exit(1)
}
