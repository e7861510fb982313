// Package parsertest checks that a flowscope.SessionParser keeps the
// contract every parser in a pipeline relies on, the way testing/slogtest
// checks slog handlers. Give it a factory, some conversations, and a
// function that renders messages as text:
//
//	parsertest.Run(t, http1.Parser{}, convs, render)
//
// It checks that every split of the input (byte by byte, before every
// capital inside a line, and random N-way splits) gives the same
// messages as the whole chunks; that the
// parser keeps no borrowed bytes (the input buffers are overwritten after
// each call, whole chunks and split ones, so that a message's start kept
// from one call to the next is caught too, and the messages must not
// change); that the messages are the same when the connection's record
// shows it was seen from its SYN; that a parser that says it is done
// (flowscope.Doner) and is fed no more loses nothing; that gaps anywhere
// do not crash it and that it still produces messages after a gap when
// the conversation goes on; that its messages, when they are records,
// keep the record contract (recordtest); and that bytes it cannot parse
// do not make it grow without bound.
package parsertest

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/flowscope-go/flowscope"
	"github.com/flowscope-go/flowscope/flowkey"
	"github.com/flowscope-go/flowscope/recordtest"
	"github.com/flowscope-go/flowscope/source"
)

// Piece is one step of a conversation: bytes of a side, in stream order.
type Piece struct {
	Side flowscope.Side
	Data []byte
}

// Conversation is a whole connection as a parser would see it, from the
// first bytes of each side: the kit feeds it as seen from the SYN too.
type Conversation []Piece

// Run checks factory's parsers on convs. render turns a message into
// text that identifies it (what a test would compare); it must not keep
// the message.
func Run[M any](t *testing.T, factory flowscope.SessionFactory[M], convs []Conversation, render func(M) string) {
	t.Helper()
	for i, conv := range convs {
		want := feed(t, factory, &flowscope.Conn{}, conv, render, false)
		if len(want) == 0 {
			t.Errorf("conversation %d: the parser found no message; the kit needs conversations it can parse", i)
			continue
		}
		t.Run("records", func(t *testing.T) {
			// Messages that are records describe themselves right.
			var recs []flowscope.Record
			p := factory.NewSession(&flowscope.Conn{UID: "Ctest", Proto: flowkey.ProtoTCP})
			var out []M
			for i, piece := range conv {
				out = p.Data(piece.Side, piece.Data, int64(i), out)
			}
			for _, m := range p.End(&flowscope.FlowRecord{}, out) {
				if r, ok := any(m).(flowscope.Record); ok {
					recs = append(recs, r)
				}
			}
			recordtest.Check(t, recs...)
		})
		t.Run("bytewise", func(t *testing.T) {
			if got := feed(t, factory, &flowscope.Conn{}, split(conv, func(n int) []int { return ones(n) }), render, true); !slices.Equal(got, want) {
				t.Errorf("conversation %d fed byte by byte:\n%s\nwant\n%s", i, strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
		t.Run("cuts inside lines", func(t *testing.T) {
			// A boundary right before what could begin a message, but in
			// the middle of a line ("xx" | "HTTP/1.1 200 OK"), must not
			// make it one.
			if got := feed(t, factory, &flowscope.Conn{}, splitData(conv, midLineCuts), render, true); !slices.Equal(got, want) {
				t.Errorf("conversation %d cut before every capital inside a line:\n%s\nwant\n%s", i, strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
		t.Run("random splits", func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(i), 1))
			for range 20 {
				got := feed(t, factory, &flowscope.Conn{}, split(conv, func(n int) []int { return randomCuts(rng, n) }), render, true)
				if !slices.Equal(got, want) {
					t.Fatalf("conversation %d fed in random pieces:\n%s\nwant\n%s", i, strings.Join(got, "\n"), strings.Join(want, "\n"))
				}
			}
		})
		t.Run("no borrowed bytes kept", func(t *testing.T) {
			if got := feed(t, factory, &flowscope.Conn{}, conv, render, true); !slices.Equal(got, want) {
				t.Errorf("conversation %d: messages changed when the input buffers were reused after each call:\n%s\nwant\n%s",
					i, strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
		t.Run("from the SYN", func(t *testing.T) {
			// A connection seen from its handshake: a parser may take the
			// first bytes of each side for the start of its stream, and
			// must still find every message, whole or split.
			syn := &flowscope.Conn{Proto: flowkey.ProtoTCP, History: flowscope.HistoryOf("S")}
			for _, c := range []Conversation{conv, split(conv, func(n int) []int { return ones(n) })} {
				if got := feed(t, factory, syn, c, render, true); !slices.Equal(got, want) {
					t.Errorf("conversation %d, seen from its SYN:\n%s\nwant\n%s", i, strings.Join(got, "\n"), strings.Join(want, "\n"))
				}
			}
		})
		t.Run("nothing after done", func(t *testing.T) {
			// A parser that says it is done (flowscope.Doner) is fed no
			// more: it must have emitted, or emit at End, all it would
			// have from the rest.
			for _, c := range []Conversation{conv, split(conv, func(n int) []int { return ones(n) })} {
				if got := feedUntil(t, factory, &flowscope.Conn{}, c, render, true, true); !slices.Equal(got, want) {
					t.Errorf("conversation %d, fed until the parser was done:\n%s\nwant\n%s", i, strings.Join(got, "\n"), strings.Join(want, "\n"))
				}
			}
		})
		t.Run("gaps", func(t *testing.T) {
			for k := range conv {
				gapped := withGap(conv, k)
				_ = feedGaps(t, factory, gapped, render) // must not panic
			}
			// A gap in the first piece, then the whole conversation again:
			// the parser must find its way back.
			again := withGap(conv, 0)
			for _, p := range conv {
				again = append(again, gapPiece{p, 0})
			}
			if got := feedGaps(t, factory, again, render); len(got) == 0 {
				t.Errorf("conversation %d: no message after a gap, though the conversation was replayed whole", i)
			}
		})
	}
	t.Run("bounded on garbage", func(t *testing.T) {
		p := factory.NewSession(&flowscope.Conn{})
		junk := make([]byte, 64<<10)
		rng := rand.New(rand.NewPCG(9, 9))
		for i := range junk {
			junk[i] = byte(rng.Uint32())
		}
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		var out []M
		for range 64 { // 4 MiB of each side
			out = p.Data(flowscope.Orig, junk, 0, out[:0])
			out = p.Data(flowscope.Resp, junk, 0, out[:0])
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		if grew := int64(after.HeapAlloc) - int64(before.HeapAlloc); grew > 2<<20 {
			t.Errorf("the parser holds %d KiB after 8 MiB of garbage", grew>>10)
		}
		runtime.KeepAlive(p)
	})
}

// gapPiece marks a gap in a conversation given to feedGaps.
type gapPiece struct {
	Piece
	gap uint64
}

func withGap(conv Conversation, k int) []gapPiece {
	var out []gapPiece
	for i, p := range conv {
		if i == k {
			half := len(p.Data) / 2
			out = append(out, gapPiece{Piece{p.Side, p.Data[:half]}, 0}, gapPiece{Piece{p.Side, nil}, uint64(len(p.Data) - half)})
			continue
		}
		out = append(out, gapPiece{p, 0})
	}
	return out
}

func feedGaps[M any](t *testing.T, factory flowscope.SessionFactory[M], conv []gapPiece, render func(M) string) []string {
	t.Helper()
	p := factory.NewSession(&flowscope.Conn{})
	var got []string
	var out []M
	for i, piece := range conv {
		if piece.gap > 0 {
			out = p.Gap(piece.Side, piece.gap, int64(i), out[:0])
		} else {
			out = p.Data(piece.Side, piece.Data, int64(i), out[:0])
		}
		for _, m := range out {
			got = append(got, render(m))
		}
	}
	for _, m := range p.End(&flowscope.FlowRecord{}, out[:0]) {
		got = append(got, render(m))
	}
	return got
}

func feed[M any](t *testing.T, factory flowscope.SessionFactory[M], c *flowscope.Conn, conv Conversation, render func(M) string, scribble bool) []string {
	return feedUntil(t, factory, c, conv, render, scribble, false)
}

// feedUntil is feed that, with untilDone, stops feeding once the parser
// says it is done (flowscope.Doner), as the tracker does.
func feedUntil[M any](t *testing.T, factory flowscope.SessionFactory[M], c *flowscope.Conn, conv Conversation, render func(M) string, scribble, untilDone bool) []string {
	t.Helper()
	p := factory.NewSession(c)
	dn, _ := p.(flowscope.Doner)
	var msgs []M
	var out []M
	for i, piece := range conv {
		if untilDone && dn != nil && dn.Done() {
			break
		}
		buf := append([]byte(nil), piece.Data...)
		out = p.Data(piece.Side, buf, int64(i), out[:0])
		msgs = append(msgs, out...)
		if scribble {
			for j := range buf {
				buf[j] = 0xAA // what a reused packet buffer would hold next
			}
		}
	}
	msgs = append(msgs, p.End(&flowscope.FlowRecord{}, out[:0])...)
	got := make([]string, len(msgs))
	for i, m := range msgs {
		got[i] = render(m)
	}
	return got
}

// split cuts every piece of conv into the lengths cuts gives.
func split(conv Conversation, cuts func(n int) []int) Conversation {
	var out Conversation
	for _, p := range conv {
		off := 0
		for _, n := range cuts(len(p.Data)) {
			out = append(out, Piece{p.Side, p.Data[off : off+n]})
			off += n
		}
	}
	return out
}

// splitData cuts every piece of conv where cuts, given its bytes, says.
func splitData(conv Conversation, cuts func(b []byte) []int) Conversation {
	var out Conversation
	for _, p := range conv {
		off := 0
		for _, n := range cuts(p.Data) {
			out = append(out, Piece{p.Side, p.Data[off : off+n]})
			off += n
		}
	}
	return out
}

// midLineCuts cuts b before every ASCII capital that does not begin a
// line: where a message could seem to start to a parser that takes the
// first byte of each chunk for the start of a line.
func midLineCuts(b []byte) []int {
	var out []int
	last := 0
	for i := 1; i < len(b); i++ {
		if 'A' <= b[i] && b[i] <= 'Z' && b[i-1] != '\n' {
			out = append(out, i-last)
			last = i
		}
	}
	return append(out, len(b)-last)
}

func ones(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = 1
	}
	return out
}

func randomCuts(rng *rand.Rand, n int) []int {
	var out []int
	for n > 0 {
		k := 1 + rng.IntN(min(n, 64))
		out = append(out, k)
		n -= k
	}
	return out
}

// Read runs src through a flowscope.Driver (5-tuple keys, default
// bounds) to its end and returns what the Driver's parsers are fed: for
// each TCP connection whose Conn keep accepts, in the order they began,
// its conversation (both sides in causal order, copied; gaps left out),
// and for each UDP flow keep accepts, its payloads in capture order.
func Read(t testing.TB, src source.Source, keep func(*flowscope.Conn) bool) (tcp []Conversation, udp []Conversation) {
	t.Helper()
	rec := func(list *[]Conversation) func(c *flowscope.Conn) *recorder {
		return func(c *flowscope.Conn) *recorder {
			if !keep(c) {
				return nil
			}
			*list = append(*list, nil)
			return &recorder{list: list, i: len(*list) - 1}
		}
	}
	onTCP, onUDP := rec(&tcp), rec(&udp)
	d := flowscope.NewDriver(flowkey.FiveTupleExtractor{}, &flowscope.Config{Parsers: []flowscope.Parser{
		flowscope.Session(flowscope.SessionFactoryFunc[noRecord](func(c *flowscope.Conn) flowscope.SessionParser[noRecord] {
			if r := onTCP(c); r != nil {
				return r
			}
			return nil
		})),
		flowscope.Datagram(flowscope.DatagramFactoryFunc[noRecord](func(c *flowscope.Conn) flowscope.DatagramParser[noRecord] {
			if r := onUDP(c); r != nil {
				return r
			}
			return nil
		})),
	}})
	var b source.Batch
	for {
		err := src.ReadBatch(context.Background(), &b)
		for i := range b.Packets {
			d.Track(&b.Packets[i], nil)
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				t.Fatalf("parsertest.Read: %v", err)
			}
			break
		}
	}
	d.Flush(flowscope.EndOfInput, nil)
	return tcp, udp
}

// recorder keeps the pieces a Driver feeds one flow's parsers.
type recorder struct {
	list *[]Conversation
	i    int
}

func (r *recorder) add(s flowscope.Side, b []byte) {
	(*r.list)[r.i] = append((*r.list)[r.i], Piece{Side: s, Data: append([]byte(nil), b...)})
}

func (r *recorder) Data(s flowscope.Side, b []byte, _ int64, out []noRecord) []noRecord {
	r.add(s, b)
	return out
}

func (r *recorder) Datagram(s flowscope.Side, b []byte, _ int64, out []noRecord) []noRecord {
	r.add(s, b)
	return out
}

func (r *recorder) Gap(_ flowscope.Side, _ uint64, _ int64, out []noRecord) []noRecord { return out }
func (r *recorder) End(_ *flowscope.FlowRecord, out []noRecord) []noRecord             { return out }

// noRecord is the message type of the recorder, which makes none.
type noRecord struct{ flowscope.Record }
