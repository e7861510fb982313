// Command customparsers runs two parsers of its own, an SMTP session
// parser (smtp.go) and a syslog datagram parser (syslog.go), beside
// flowscope's built-in HTTP, DNS and TLS parsers, on two shards, and
// writes every record, theirs and the built-ins' and the conn records,
// through the one Zeek JSON writer. Neither needs a port table: each
// finds its protocol by content.
//
//	go run ./examples/customparsers -r testdata/mail-syslog.pcap
//
// With no -r it reads the capture embedded in flowscope (which has no
// mail or syslog in it). Interrupt stops it cleanly.
package main

import (
	"context"
	"flag"
	"io"
	"log"
	"os"
	"os/signal"

	"github.com/flowscope-go/flowscope"
	"github.com/flowscope-go/flowscope/flowkey"
	"github.com/flowscope-go/flowscope/parsers"
	"github.com/flowscope-go/flowscope/sample"
	"github.com/flowscope-go/flowscope/sink"
	"github.com/flowscope-go/flowscope/source"
	"github.com/flowscope-go/flowscope/stage"
)

func main() {
	path := flag.String("r", "", "capture to read (default: the embedded sample)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *path, os.Stdout); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, path string, out io.Writer) error {
	src, err := sample.Open()
	if path != "" {
		src, err = source.OpenFiles(path)
	}
	if err != nil {
		return err
	}
	defer src.Close()

	cfg := stage.TrackConfig{Workers: 2, Driver: flowscope.Config{Parsers: append(parsers.All(),
		flowscope.Session(SMTPParser{}), flowscope.Datagram(SyslogParser{}))}}
	g := stage.New(nil)
	recs, _ := stage.Track(g, "track", flowkey.FiveTupleExtractor{}, &cfg, stage.FromSource(g, "read", src))
	stage.To(g, "write", recs, sink.NewLines(out, &sink.ZeekJSON{}))
	return g.Run(ctx)
}
