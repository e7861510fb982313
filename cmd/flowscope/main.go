// Command flowscope reads packet captures and writes one record per
// bidirectional flow, as JSON Lines with Zeek's conn.log field names.
//
// Run it with no arguments to analyse a small capture embedded in the
// binary; see -h for the options.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/flowscope-go/flowscope"
	"github.com/flowscope-go/flowscope/analyze"
	"github.com/flowscope-go/flowscope/internal/sample"
	"github.com/flowscope-go/flowscope/sink"
	"github.com/flowscope-go/flowscope/source"
)

const usage = `flowscope: passive flow analysis of packet captures

Usage:
  flowscope [options] [-r FILE]...

With no -r, flowscope analyses a small capture embedded in the binary
(HTTP and DNS recorded on loopback) and says so on stderr.

Input:
  -r FILE            read a pcap or pcapng capture; repeat to read several
                     files in order as one stream

Output:
  -w FILE            write records to FILE instead of standard output
  --transcripts DIR  write each TCP connection's reassembled streams to DIR:
                     <uid>.orig and <uid>.resp, and one line per
                     connection in DIR/index.jsonl
  --transcripts-text also write <uid>.txt, both sides interleaved in
                     causal order and readable, with gaps marked
  --format NAME      output format: zeek (JSON Lines, Zeek field names;
                     the default)
  --protocols LIST   comma-separated protocol parsers to run: http, dns,
                     tls (all of them by default); "none" gives flow (conn)
                     records only
  -q                 no summary line on stderr

Processing:
  --workers N        flow-tracking shards (default: number of CPUs, %d here)

Profiling:
  --cpuprofile FILE  write a CPU profile of the run to FILE (go tool pprof)
  --memprofile FILE  write a heap profile at the end of the run to FILE

Exit status is 0 on success, 1 when input or output failed (records
decoded before the failure are still written), 2 on bad usage.

Examples:
  flowscope -r capture.pcap > conn.jsonl
  flowscope -r a.pcap -r b.pcapng --workers 4 -w conn.jsonl
`

type fileList []string

func (f *fileList) String() string     { return strings.Join(*f, ",") }
func (f *fileList) Set(v string) error { *f = append(*f, v); return nil }

type options struct {
	reads     fileList
	write     string
	transcr   string
	trText    bool
	format    string
	protocols string
	workers   int
	quiet     bool
	cpuprof   string
	memprof   string
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var o options
	fs := flag.NewFlagSet("flowscope", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {} // -h is handled below; other errors get one line
	fs.Var(&o.reads, "r", "read a capture file (repeatable)")
	fs.StringVar(&o.write, "w", "", "write records to this file")
	fs.StringVar(&o.transcr, "transcripts", "", "write TCP transcripts to this directory")
	fs.BoolVar(&o.trText, "transcripts-text", false, "also write readable interleaved transcripts")
	fs.StringVar(&o.format, "format", "zeek", "output format")
	fs.StringVar(&o.protocols, "protocols", "", "protocol parsers to run")
	fs.IntVar(&o.workers, "workers", runtime.NumCPU(), "flow-tracking shards")
	fs.BoolVar(&o.quiet, "q", false, "no summary line")
	fs.StringVar(&o.cpuprof, "cpuprofile", "", "write a CPU profile to this file")
	fs.StringVar(&o.memprof, "memprofile", "", "write a heap profile to this file")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(stdout, usage, runtime.NumCPU())
			return 0
		}
		fmt.Fprintln(stderr, "flowscope: see flowscope -h for the options")
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "flowscope: unexpected argument %q (captures are given with -r)\n", fs.Arg(0))
		return 2
	}
	if o.format != "zeek" {
		fmt.Fprintf(stderr, "flowscope: unknown --format %q (known: zeek)\n", o.format)
		return 2
	}
	protocols, err := analyze.ParseProtocols(o.protocols)
	if err != nil {
		fmt.Fprintf(stderr, "flowscope: %v\n", err)
		return 2
	}
	if o.trText && o.transcr == "" {
		fmt.Fprintf(stderr, "flowscope: --transcripts-text needs --transcripts DIR\n")
		return 2
	}
	if o.workers < 1 {
		fmt.Fprintf(stderr, "flowscope: --workers must be at least 1\n")
		return 2
	}

	var src *source.Files
	if len(o.reads) == 0 {
		fmt.Fprintf(stderr, "flowscope: no -r given; analysing the embedded sample capture %s (%d bytes). See -h.\n",
			sample.Name, len(sample.Capture))
		src, err = source.NewReader(sample.Name, bytes.NewReader(sample.Capture))
	} else {
		src, err = source.OpenFiles(o.reads...)
	}
	if err != nil {
		fmt.Fprintf(stderr, "flowscope: %v\n", err)
		return 1
	}
	defer src.Close()

	out := stdout
	if o.write != "" {
		f, err := os.Create(o.write)
		if err != nil {
			fmt.Fprintf(stderr, "flowscope: %v\n", err)
			return 1
		}
		defer f.Close()
		out = f
	}

	var transcripts *sink.Transcripts
	if o.transcr != "" {
		if transcripts, err = sink.NewTranscripts(o.transcr); err != nil {
			fmt.Fprintf(stderr, "flowscope: %v\n", err)
			return 1
		}
		transcripts.SetText(o.trText)
	}

	if o.cpuprof != "" {
		f, err := os.Create(o.cpuprof)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintf(stderr, "flowscope: --cpuprofile: %v\n", err)
			return 1
		}
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}
	start := time.Now()
	st, runErr := analyze.Run(ctx, src, out, analyze.Options{Workers: o.workers, Protocols: protocols, Transcripts: transcripts})
	elapsed := time.Since(start)
	if transcripts != nil {
		if err := transcripts.Close(); err != nil && runErr == nil {
			runErr = err
		}
	}

	if o.memprof != "" {
		if err := writeHeapProfile(o.memprof); err != nil {
			fmt.Fprintf(stderr, "flowscope: --memprofile: %v\n", err)
			return 1
		}
	}

	status := 0
	if runErr != nil {
		// A read error still lets the stages drain: everything decoded
		// before the fault has been written.
		fmt.Fprintf(stderr, "flowscope: %v\n", describe(runErr))
		status = 1
	}
	if o.write != "" {
		if f, ok := out.(*os.File); ok {
			if err := f.Close(); err != nil && status == 0 {
				fmt.Fprintf(stderr, "flowscope: %v\n", err)
				status = 1
			}
		}
	}
	if !o.quiet {
		rate := float64(st.Packets) / max(elapsed.Seconds(), 1e-9)
		fmt.Fprintf(stderr, "flowscope: %d packets, %d flows, %d skipped%s, %s, %.0f packets/s\n",
			st.Packets, st.Flows, st.Skipped(), skipReasons(st), elapsed.Round(time.Microsecond), rate)
	}
	return status
}

// skipReasons says why packets were skipped, and what became of IP
// fragments: " (3 not IP, 40 fragments held: 18 datagrams reassembled, 1
// dropped incomplete)", or nothing when no packet was skipped.
func skipReasons(st flowscope.Stats) string {
	var parts []string
	for _, r := range []struct {
		n    uint64
		what string
	}{
		{st.UnsupportedLink, "of an unsupported link type"},
		{st.NotIP, "not IP"},
		{st.Truncated, "truncated"},
		{st.Malformed, "malformed"},
		{st.NoKey, "without a flow key"},
	} {
		if r.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", r.n, r.what))
		}
	}
	if st.Fragments > 0 {
		f := fmt.Sprintf("%d fragments held: %d datagrams reassembled, %d dropped incomplete", st.Fragments, st.Reassembled, st.FragmentsDropped)
		if st.FragmentOverlaps > 0 {
			f += fmt.Sprintf(", %d overlapping", st.FragmentOverlaps)
		}
		parts = append(parts, f)
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

// describe strips the stage wrapping from errors whose own text already
// names the file and the fault.
func describe(err error) error {
	var fe *source.FileError
	if errors.As(err, &fe) {
		return fe
	}
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe
	}
	return err
}

func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
