//go:build !linux

package hugeheap

func advise([]byte) int { return 0 }
