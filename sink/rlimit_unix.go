//go:build unix

package sink

import "syscall"

// openFileLimit returns the process's soft limit on open files.
func openFileLimit() uint64 {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return 1024
	}
	return l.Cur
}
