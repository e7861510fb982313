//go:build linux

// Package netns builds two network namespaces joined by a veth pair, for
// tests that capture real traffic between real clients and servers. It
// needs root and iproute2's ip; New skips the test without them (and
// fails it when FLOWSCOPE_REQUIRE_NETNS is set, as in CI).
package netns

import (
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/unix"
)

// Pair is two namespaces, A and B, with interface IfA in A and IfB in B
// joined as a veth pair, each with an IPv4 and an IPv6 address.
type Pair struct {
	A, B           string
	IfA, IfB       string
	AddrA, AddrB   netip.Addr
	Addr6A, Addr6B netip.Addr
}

var seq atomic.Int32

// New creates a pair and removes it when the test ends.
func New(t testing.TB) *Pair {
	t.Helper()
	skip := func(why string) {
		if os.Getenv("FLOWSCOPE_REQUIRE_NETNS") != "" {
			t.Fatalf("%s, and FLOWSCOPE_REQUIRE_NETNS is set", why)
		}
		t.Skip(why)
	}
	if os.Geteuid() != 0 {
		skip("network namespace tests need root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		skip("network namespace tests need iproute2's ip")
	}
	n := seq.Add(1)
	p := &Pair{
		A: fmt.Sprintf("fs%d-%d-a", os.Getpid(), n), B: fmt.Sprintf("fs%d-%d-b", os.Getpid(), n),
		IfA: "va", IfB: "vb",
		AddrA: netip.MustParseAddr("10.99.0.1"), AddrB: netip.MustParseAddr("10.99.0.2"),
		Addr6A: netip.MustParseAddr("fd99::1"), Addr6B: netip.MustParseAddr("fd99::2"),
	}
	t.Cleanup(func() {
		exec.Command("ip", "netns", "del", p.A).Run()
		exec.Command("ip", "netns", "del", p.B).Run()
	})
	cmds := [][]string{
		{"netns", "add", p.A},
		{"netns", "add", p.B},
		{"link", "add", p.IfA, "netns", p.A, "type", "veth", "peer", "name", p.IfB, "netns", p.B},
		{"-n", p.A, "addr", "add", p.AddrA.String() + "/24", "dev", p.IfA},
		{"-n", p.B, "addr", "add", p.AddrB.String() + "/24", "dev", p.IfB},
		{"-n", p.A, "addr", "add", p.Addr6A.String() + "/64", "dev", p.IfA, "nodad"},
		{"-n", p.B, "addr", "add", p.Addr6B.String() + "/64", "dev", p.IfB, "nodad"},
		{"-n", p.A, "link", "set", "lo", "up"},
		{"-n", p.B, "link", "set", "lo", "up"},
		{"-n", p.A, "link", "set", p.IfA, "up"},
		{"-n", p.B, "link", "set", p.IfB, "up"},
	}
	for _, c := range cmds {
		if out, err := exec.Command("ip", c...).CombinedOutput(); err != nil {
			if c[0] == "netns" && c[1] == "add" {
				skip(fmt.Sprintf("cannot create network namespaces here: ip %s: %v: %s", strings.Join(c, " "), err, out))
			}
			t.Fatalf("ip %s: %v: %s", strings.Join(c, " "), err, out)
		}
	}
	return p
}

// Do runs f on an OS thread that has entered namespace ns. Sockets f
// opens stay in ns whatever thread later uses them. The thread is not
// reused afterwards.
func (p *Pair) Do(ns string, f func() error) error {
	errc := make(chan error, 1)
	go func() {
		// The goroutine exits locked: the runtime then ends the thread
		// instead of giving it, still in ns, to other goroutines.
		runtime.LockOSThread()
		if err := Enter(ns); err != nil {
			errc <- err
			return
		}
		errc <- f()
	}()
	return <-errc
}

// Enter moves the calling goroutine's thread into namespace ns; the
// caller must have locked it to the thread (runtime.LockOSThread) and
// never unlock it.
func Enter(ns string) error {
	fd, err := unix.Open("/run/netns/"+ns, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("netns %s: %w", ns, err)
	}
	defer unix.Close(fd)
	if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
		return fmt.Errorf("entering netns %s: %w", ns, err)
	}
	return nil
}
