// Command workload writes the benchmark capture: a deterministic,
// realistic mix of HTTP/1.1 keep-alive exchanges (real headers, bodies of
// log-normal sizes, some chunked), TLS 1.2 and 1.3 handshakes followed by
// encrypted application data, DNS over UDP and TCP, and long bulk
// transfers, on a 1,500-byte MTU, with about 4% of data segments lost,
// reordered or retransmitted, as a capture near the servers would see
// them. IP, TCP and UDP checksums are correct.
//
//	go run ./bench/workload -o /tmp/mix.pcap            # about 2.2M packets, 106k flows
//	go run ./bench/workload -o small.pcap -scale 0.01
//	go run ./bench/workload -o long.pcap -scale 2 -span 10m  # twice the packets, as many flows open at once
//
// The same -seed and -scale write the same bytes.
package main

import (
	"flag"
	"fmt"
	"os"
	"time"
)

func main() {
	out := flag.String("o", "", "the pcap file to write (required)")
	scale := flag.Float64("scale", 1, "multiply every flow count by this")
	seed := flag.Uint64("seed", 1, "the random seed")
	span := flag.Duration("span", DefaultMix.Duration, "the time over which flows start (with -scale, sets how many are open at once)")
	flag.Parse()
	if *out == "" || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: workload -o FILE [-scale F] [-seed N]")
		os.Exit(2)
	}
	f, err := os.Create(*out)
	if err != nil {
		fmt.Fprintln(os.Stderr, "workload:", err)
		os.Exit(1)
	}
	began := time.Now()
	mix := DefaultMix.Scaled(*scale)
	mix.Duration = *span
	sum, err := Generate(f, mix, *seed)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "workload: writing %s: %v\n", *out, err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "%s: %d packets, %d bytes, %d flows over %s (%d HTTP exchanges, %d TLS handshakes, %d DNS queries of which %d over TCP and %d answered, %d bulk bytes, %d flows over IPv6) in %s\n",
		*out, sum.Packets, sum.Bytes, sum.Flows, sum.Last.Sub(sum.First).Round(time.Second), sum.HTTPExchanges, sum.TLSHandshakes,
		sum.DNSQueries, sum.DNSOverTCP, sum.DNSAnswered, sum.BulkBytes, sum.ClientIPv6Flows, time.Since(began).Round(time.Millisecond))
}
