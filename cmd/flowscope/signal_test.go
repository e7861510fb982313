//go:build unix

package main

import (
	"bytes"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/flowscope-go/flowscope/internal/pcapgen"
)

// TestMain lets a test run the command itself in a child process (the
// test binary with FLOWSCOPE_RUN_MAIN set), for what only a process can
// show: signals and exit codes.
func TestMain(m *testing.M) {
	if os.Getenv("FLOWSCOPE_RUN_MAIN") != "" {
		main()
		return
	}
	os.Exit(m.Run())
}

// TestSecondSignalExitsAtOnce blocks the command on its output (a pipe
// nobody reads), sends SIGINT, which cannot finish (the records cannot be
// written), then a second SIGINT, which must end the process at once
// with status 130.
func TestSecondSignalExitsAtOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "many.pcap")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	// Enough flows that their records fill a pipe many times over.
	if err := pcapgen.WritePcap(f, pcapgen.Random(rand.New(rand.NewPCG(1, 2)), 5000, time.Minute)); err != nil {
		t.Fatal(err)
	}
	f.Close()

	cmd := exec.Command(os.Args[0], "-r", path, "--workers", "1")
	cmd.Env = append(os.Environ(), "FLOWSCOPE_RUN_MAIN=1")
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close() // never read until the end: the command blocks writing
	cmd.Stdout = pw
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	time.Sleep(500 * time.Millisecond) // the pipe is full well before this
	cmd.Process.Signal(syscall.SIGINT)
	time.Sleep(300 * time.Millisecond)
	cmd.Process.Signal(syscall.SIGINT)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		ee, ok := err.(*exec.ExitError)
		if !ok || ee.ExitCode() != 130 {
			t.Fatalf("exit: %v, want status 130; stderr %q", err, stderr.String())
		}
	case <-time.After(5 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("still running 5 s after the second SIGINT; stderr %q", stderr.String())
	}
	io.Copy(io.Discard, pr)
	if s := stderr.String(); !strings.Contains(s, "stopping") || !strings.Contains(s, "exiting at once") {
		t.Errorf("stderr %q: want the stop and the exit announced", s)
	}
}
