// Command conversations prints each TCP connection of a capture as one
// conversation: both sides' bytes in causal order (a response after the
// request it answers, even when the capture shows it first), under a line
// naming the connection, the side, the time and the offset, with the
// bytes that were never captured marked where they are missing, like
// Wireshark's "Follow TCP stream". Conversations are printed as they go,
// so those of connections open at once interleave; every line names its
// connection's uid. Bytes that are not printable are shown as dots.
//
//	go run ./examples/conversations -r capture.pcap
//	go run ./examples/conversations -port 8080    # one server's connections
//
// With no -r it reads the capture embedded in flowscope. Interrupt stops
// it cleanly.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"time"

	"github.com/flowscope-go/flowscope"
	"github.com/flowscope-go/flowscope/conversation"
	"github.com/flowscope-go/flowscope/flowkey"
	"github.com/flowscope-go/flowscope/sample"
	"github.com/flowscope-go/flowscope/sink"
	"github.com/flowscope-go/flowscope/source"
	"github.com/flowscope-go/flowscope/stage"
)

func main() {
	path := flag.String("r", "", "capture to read (default: the embedded sample)")
	port := flag.Uint("port", 0, "only connections to this server port")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *path, uint16(*port), os.Stdout); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, path string, port uint16, out io.Writer) error {
	src, err := sample.Open()
	if path != "" {
		src, err = source.OpenFiles(path)
	}
	if err != nil {
		return err
	}
	defer src.Close()

	g := stage.New(nil)
	recs, _ := stage.Track(g, "track", flowkey.FiveTupleExtractor{}, &stage.TrackConfig{Workers: 2,
		Driver: flowscope.Config{Parsers: []flowscope.Parser{flowscope.Session(conversation.Parser{})}}},
		stage.FromSource(g, "read", src))
	convs, conns := stage.Select[*conversation.Event](g, "select", recs)
	stage.Drop(g, "conns", conns)
	w := bufio.NewWriter(out)
	last := map[*flowscope.Conn]flowscope.Side{} // the side each open conversation last showed
	stage.To(g, "print", convs, sink.Func[*conversation.Event](func(_ context.Context, evs []*conversation.Event) error {
		for _, e := range evs {
			if port != 0 && e.Conn.Resp.Port() != port {
				continue
			}
			side, seen := last[e.Conn]
			switch e.Kind {
			case conversation.Data:
				if !seen {
					fmt.Fprintf(w, "=== %s tcp %s -> %s\n", e.Conn.UID, e.Conn.Orig, e.Conn.Resp)
				}
				if !seen || side != e.Side {
					fmt.Fprintf(w, "--- %s %s at offset %d (%s)\n", e.Conn.UID, e.Side, e.Offset, stamp(e.Time))
				}
				w.Write(printable(e.Bytes))
				last[e.Conn] = e.Side
			case conversation.Gap:
				fmt.Fprintf(w, "\n--- %s %s: %d bytes missing at offset %d\n", e.Conn.UID, e.Side, e.Gap, e.Offset)
				last[e.Conn] = 255 // the next bytes get a side line again
			case conversation.End:
				if seen {
					fmt.Fprintf(w, "\n=== %s ended: %s, %s\n", e.Conn.UID, e.Record.Reason, e.Record.State)
					delete(last, e.Conn)
				}
			}
		}
		return w.Flush()
	}))
	return g.Run(ctx)
}

// printable copies b with bytes other than printable ASCII, tabs and
// line ends shown as dots.
func printable(b []byte) []byte {
	out := make([]byte, len(b))
	for i, c := range b {
		if c < 0x20 && c != '\n' && c != '\r' && c != '\t' || c >= 0x7f {
			c = '.'
		}
		out[i] = c
	}
	return out
}

func stamp(ns int64) string { return time.Unix(0, ns).UTC().Format("15:04:05.000000") }
