// Command flowscope reads packet captures, or captures live from a
// network interface, and writes one record per bidirectional flow, as
// JSON Lines with Zeek's conn.log field names, with HTTP, DNS and TLS
// records beside them.
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
	"math"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/flowscope-go/flowscope"
	"github.com/flowscope-go/flowscope/internal/analyze"
	"github.com/flowscope-go/flowscope/internal/hugeheap"
	"github.com/flowscope-go/flowscope/sample"
	"github.com/flowscope-go/flowscope/sink"
	"github.com/flowscope-go/flowscope/source"
)

const usage = `flowscope: passive flow analysis of packet captures

Usage:
  flowscope [options] [-r FILE]...
  flowscope [options] -i INTERFACE

With no -r and no -i, flowscope analyses a small capture embedded in the
binary (HTTP and DNS recorded on loopback) and says so on stderr.

Input:
  -r FILE            read a pcap or pcapng capture; repeat to read several
                     files in order as one stream
  -i INTERFACE       capture live on INTERFACE, or on every interface with
                     "any" (as raw IP: no link-layer headers) (Linux
                     AF_PACKET; needs root or CAP_NET_RAW). Timers run on
                     the wall clock;
                     Ctrl-C or SIGTERM stops the capture, ends the open
                     flows (end_reason "shutdown") and writes them; a
                     second signal exits at once
  -f EXPR            capture filter in tcpdump's language (host, net, port,
                     portrange, src/dst, tcp/udp/icmp/ip/ip6, vlan, and/or/
                     not, parentheses); run in the kernel when live
  --count N          stop after N packets
  --duration D       stop a live capture after D (such as 30s, 5m)
  --promisc          put the interface in promiscuous mode
  --snaplen N        live: keep at most N bytes of each packet (what is cut
                     counts as missed bytes of its connection)
  --ring MB          kernel ring per capture socket, in MiB (default 32);
                     what arrives while it is full is dropped and counted

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
  --write-pcap FILE  also save the packets read (after -f and --count) to
                     FILE, a nanosecond pcap
  --rotate MB        with --write-pcap, start a new file (FILE1, FILE2 ...)
                     each time one reaches MB MiB
  --stats D          every D, one line on stderr: packets, kernel drops,
                     open flows, bytes held for reassembly
  -q                 no summary line on stderr

Processing:
  --workers N        flow-tracking shards (default: number of CPUs, %d here);
                     live, one capture socket per shard in a fanout group
  --memory MB        bound the memory the analysis holds, in MiB (default
                     1024): a quarter (at most 256 MiB) for bytes held for
                     reassembly and causal order, the rest for flows and
                     their parsers; reaching it ends the least recently
                     seen flows, counted in the summary. 0: no bound but
                     the table of 1,000,000 flows

Profiling:
  --cpuprofile FILE  write a CPU profile of the run to FILE (go tool pprof;
                     samples carry a "stage" label: pprof -tags)
  --memprofile FILE  write a heap profile at the end of the run to FILE

Exit status is 0 on success (a capture stopped by a signal included), 1
when input or output failed (records decoded before the failure are
still written), 2 on bad usage.

Examples:
  flowscope -r capture.pcap > conn.jsonl
  flowscope -r a.pcap -r b.pcapng --workers 4 -w conn.jsonl
  flowscope -r capture.pcap -f 'tcp port 443 or udp port 53'
  flowscope -i eth0 --stats 10s --write-pcap /var/tmp/eth0.pcap --rotate 100
`

type fileList []string

func (f *fileList) String() string     { return strings.Join(*f, ",") }
func (f *fileList) Set(v string) error { *f = append(*f, v); return nil }

type options struct {
	reads     fileList
	iface     string
	filter    string
	count     uint64
	duration  time.Duration
	promisc   bool
	snaplen   int
	ringMB    int
	pcapOut   string
	rotateMB  int
	statsEv   time.Duration
	write     string
	transcr   string
	trText    bool
	format    string
	protocols string
	workers   int
	memoryMB  int
	quiet     bool
	cpuprof   string
	memprof   string
}

// heapReserve is how much of the heap is marked for huge pages: enough for
// the analysis of the benchmark workload (a peak heap near 90 MB with two
// workers) with room to spare. It costs address space, not memory; a heap
// that grows past it grows in small pages, as usual.
const heapReserve = 256 << 20

// hugeInput is the capture size from which the huge pages pay: they make a
// run on the 27 KB embedded sample 17 ms slower (23 -> 40 ms: each 2 MiB
// page is zeroed whole) and one on a 3.5 MB capture 0.9 times as long (11
// MB: 0.73).
const hugeInput = 2 << 20

// inputBytes returns the total size of the capture files named, counting
// those it cannot size (standard input, a pipe) as large.
func inputBytes(names []string) int64 {
	var n int64
	for _, name := range names {
		fi, err := os.Stat(name)
		if err != nil || !fi.Mode().IsRegular() {
			return math.MaxInt64
		}
		n += fi.Size()
	}
	return n
}

// defaultMemoryMB is --memory's default.
const defaultMemoryMB = 1024

// memoryConfig splits a --memory bound: a quarter, at most the default
// 256 MiB, for reassembly and causal order; the rest for the flows and
// their parsers (Config.MemoryBudget). The Go runtime is told of the
// whole, so that the collector keeps the heap near it rather than at
// twice the live data; restore sets back the runtime's limit as it was.
// Zero leaves the Driver's defaults.
func memoryConfig(mb int) (c *flowscope.Config, restore func()) {
	if mb <= 0 {
		return nil, func() {}
	}
	total := mb << 20
	reasm := min(total/4, flowscope.DefaultReassemblyBudget)
	old := debug.SetMemoryLimit(int64(total) + 64<<20)
	return &flowscope.Config{ReassemblyBudget: reasm, MemoryBudget: total - reasm}, func() { debug.SetMemoryLimit(old) }
}

func main() {
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr, sigs))
}

// run is the command; signals (may be nil) delivers SIGINT and SIGTERM:
// the first stops reading and lets the run finish, the second exits.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, signals <-chan os.Signal) int {
	var o options
	fs := flag.NewFlagSet("flowscope", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {} // -h is handled below; other errors get one line
	fs.Var(&o.reads, "r", "read a capture file (repeatable)")
	fs.StringVar(&o.iface, "i", "", "capture live on this interface")
	fs.StringVar(&o.filter, "f", "", "capture filter expression")
	fs.Uint64Var(&o.count, "count", 0, "stop after this many packets")
	fs.DurationVar(&o.duration, "duration", 0, "stop a live capture after this long")
	fs.BoolVar(&o.promisc, "promisc", false, "promiscuous mode")
	fs.IntVar(&o.snaplen, "snaplen", 0, "bytes kept of each live packet")
	fs.IntVar(&o.ringMB, "ring", 0, "kernel ring per socket, MiB")
	fs.StringVar(&o.pcapOut, "write-pcap", "", "save packets to this pcap file")
	fs.IntVar(&o.rotateMB, "rotate", 0, "rotate the pcap file at this many MiB")
	fs.DurationVar(&o.statsEv, "stats", 0, "periodic statistics interval")
	fs.StringVar(&o.write, "w", "", "write records to this file")
	fs.StringVar(&o.transcr, "transcripts", "", "write TCP transcripts to this directory")
	fs.BoolVar(&o.trText, "transcripts-text", false, "also write readable interleaved transcripts")
	fs.StringVar(&o.format, "format", "zeek", "output format")
	fs.StringVar(&o.protocols, "protocols", "", "protocol parsers to run")
	fs.IntVar(&o.workers, "workers", runtime.NumCPU(), "flow-tracking shards")
	fs.IntVar(&o.memoryMB, "memory", defaultMemoryMB, "memory bound, MiB")
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
	_, err := analyze.Parsers(o.protocols)
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

	if o.iface != "" && len(o.reads) > 0 {
		fmt.Fprintf(stderr, "flowscope: -i and -r cannot be used together\n")
		return 2
	}
	if o.duration < 0 || o.ringMB < 0 || o.rotateMB < 0 || o.statsEv < 0 || o.snaplen < 0 || o.memoryMB < 0 {
		fmt.Fprintf(stderr, "flowscope: --duration, --ring, --rotate, --snaplen, --stats and --memory must not be negative\n")
		return 2
	}
	if o.snaplen > 0 && o.iface == "" {
		fmt.Fprintf(stderr, "flowscope: --snaplen needs -i (a file keeps what it captured)\n")
		return 2
	}
	if o.duration > 0 && o.iface == "" {
		fmt.Fprintf(stderr, "flowscope: --duration needs -i (a file ends on its own; --count limits packets)\n")
		return 2
	}
	if o.rotateMB > 0 && o.pcapOut == "" {
		fmt.Fprintf(stderr, "flowscope: --rotate needs --write-pcap FILE\n")
		return 2
	}

	if o.iface != "" || inputBytes(o.reads) >= hugeInput {
		// Each 4 KiB page the heap faults in costs 13 us on the machines
		// we measure on; in 2 MiB pages the 1.3 GB workload runs in 0.85
		// times the time with two workers, 0.83 with one (bench/README,
		// "Huge pages").
		hugeheap.Reserve(heapReserve)
	}

	// limit ends the sources: at --count packets, or on a signal.
	var srcs []source.Source
	var files *source.Files // when reading files
	var lives []*source.Live
	stopLives := func() {
		for _, l := range lives {
			l.Stop()
		}
	}
	limit := source.NewLimit(^uint64(0), nil)
	if o.count > 0 {
		limit = source.NewLimit(o.count, stopLives)
	}
	if o.iface != "" {
		lives, err = source.OpenLive(source.LiveConfig{Interface: o.iface, Filter: o.filter, Promiscuous: o.promisc,
			Sockets: o.workers, RingBytes: o.ringMB << 20, SnapLen: o.snaplen})
		if err != nil {
			fmt.Fprintf(stderr, "flowscope: %v\n", err)
			return 1
		}
		for _, l := range lives {
			defer l.Close()
			srcs = append(srcs, l)
		}
	} else {
		if len(o.reads) == 0 {
			fmt.Fprintf(stderr, "flowscope: no -r given; analysing the embedded sample capture %s (%d bytes). See -h.\n",
				sample.Name, len(sample.Capture))
			files, err = source.NewReader(sample.Name, bytes.NewReader(sample.Capture))
		} else {
			files, err = source.OpenFiles(o.reads...)
		}
		if err != nil {
			fmt.Fprintf(stderr, "flowscope: %v\n", err)
			return 1
		}
		defer files.Close()
		var src source.Source = files
		if o.filter != "" {
			if src, err = source.NewFiltered(files, o.filter); err != nil {
				fmt.Fprintf(stderr, "flowscope: %v\n", err)
				return 2
			}
		}
		srcs = []source.Source{src}
	}
	stopReading := func() {
		limit.Stop()
		stopLives()
	}
	if o.duration > 0 {
		t := time.AfterFunc(o.duration, stopReading)
		defer t.Stop()
	}
	if signals != nil {
		done := make(chan struct{})
		defer close(done)
		go func() {
			select {
			case <-signals:
			case <-done:
				return
			}
			fmt.Fprintln(stderr, "flowscope: stopping: ending open flows and writing them (a second signal exits at once)")
			stopReading()
			select {
			case <-signals:
				fmt.Fprintln(stderr, "flowscope: exiting at once")
				os.Exit(130)
			case <-done:
			}
		}()
	}
	var pcapOut *sink.Pcap
	if o.pcapOut != "" {
		if pcapOut, err = sink.NewPcap(o.pcapOut, int64(o.rotateMB)<<20); err != nil {
			fmt.Fprintf(stderr, "flowscope: --write-pcap: %v\n", err)
			return 1
		}
	}
	for i, src := range srcs {
		src = limit.Wrap(src)
		if pcapOut != nil {
			src = &recorded{Source: src, pcap: pcapOut}
		}
		srcs[i] = src
	}

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
		if transcripts, err = sink.NewTranscripts(o.transcr, &sink.TranscriptConfig{Text: o.trText}); err != nil {
			fmt.Fprintf(stderr, "flowscope: %v\n", err)
			return 1
		}
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
	dc, restore := memoryConfig(o.memoryMB)
	defer restore()
	ao := analyze.Options{Workers: o.workers, Protocols: o.protocols, Transcripts: transcripts, Driver: dc}
	if o.statsEv > 0 {
		ao.ReportEvery = o.statsEv
		last := start
		var lastPackets uint64
		ao.Report = func(p analyze.Progress) {
			now := time.Now()
			packets := p.Tracker.Packets
			if lives != nil {
				packets = p.Source.Packets
			}
			rate := float64(packets-lastPackets) / max(now.Sub(last).Seconds(), 1e-9)
			last, lastPackets = now, packets
			fmt.Fprintf(stderr, "flowscope: %s: %d packets (%.0f/s), %d dropped by the kernel, %d flows open, %d started, %d bytes held for reassembly\n",
				now.Sub(start).Round(time.Second), packets, rate, p.Source.Dropped, p.OpenFlows, p.Tracker.Flows, p.Buffered)
		}
	}
	var st flowscope.Stats
	var runErr error
	if lives != nil {
		st, runErr = analyze.RunLive(ctx, srcs, out, ao)
	} else {
		st, runErr = analyze.Run(ctx, srcs[0], out, ao)
	}
	elapsed := time.Since(start)
	if transcripts != nil {
		if err := transcripts.Close(); err != nil && runErr == nil {
			runErr = err
		}
	}
	if pcapOut != nil {
		if err := pcapOut.Close(); err != nil && runErr == nil {
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
		if st.TimeBackwards > 0 || st.TimeSteps > 0 {
			fmt.Fprintf(stderr, "flowscope: capture clock: %d packets earlier than the one before, %d jumps (timers moved by at most the longest timeout; records keep the packets' times)\n",
				st.TimeBackwards, st.TimeSteps)
		}
		if st.Evicted > 0 {
			fmt.Fprintf(stderr, "flowscope: %d flows ended early because the flow table was full", st.Evicted)
			if st.MemoryEvicted > 0 {
				fmt.Fprintf(stderr, " (%d of them because --memory %d was reached)", st.MemoryEvicted, o.memoryMB)
			}
			fmt.Fprintln(stderr)
		}
		if st.ShedParsers > 0 || st.ShedPackets > 0 {
			fmt.Fprintf(stderr, "flowscope: behind the capture, shed load: %d new flows tracked without parsers, %d packets of new flows not tracked\n",
				st.ShedParsers, st.ShedPackets)
		}
		if files != nil {
			fs := files.Stats()
			if fs.BadBlocks > 0 {
				fmt.Fprintf(stderr, "flowscope: %d corrupt stretches of pcapng passed over, reading on at the next valid block:\n", fs.BadBlocks)
				for _, n := range files.Skipped() {
					fmt.Fprintf(stderr, "flowscope:   %v\n", n)
				}
			}
			if fs.TimeClamped > 0 {
				fmt.Fprintf(stderr, "flowscope: %d packets stamped past 2262 (what int64 nanoseconds hold) were given the latest time that fits\n", fs.TimeClamped)
			}
		}
		if lives != nil {
			var ss source.Stats
			for _, l := range lives {
				ls := l.Stats()
				ss.Packets += ls.Packets
				ss.Dropped += ls.Dropped
			}
			fmt.Fprintf(stderr, "flowscope: captured %d packets on %s with %d socket(s), %d dropped by the kernel\n",
				ss.Packets, o.iface, len(lives), ss.Dropped)
		}
		if pcapOut != nil {
			fmt.Fprintf(stderr, "flowscope: saved %d packets to %s\n", pcapOut.Packets(), strings.Join(pcapOut.Files(), ", "))
		}
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
		{st.ShedPackets, "of new flows shed under load"},
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

// recorded saves every packet a source delivers to a pcap file, in the
// source's goroutine.
type recorded struct {
	source.Source
	pcap *sink.Pcap
}

func (r *recorded) ReadBatch(ctx context.Context, b *source.Batch) error {
	err := r.Source.ReadBatch(ctx, b)
	for i := range b.Packets {
		if werr := r.pcap.WritePacket(&b.Packets[i]); werr != nil {
			b.Packets = b.Packets[:i] // what was saved is still analysed
			return fmt.Errorf("--write-pcap: %w", werr)
		}
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
