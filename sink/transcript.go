package sink

import (
	"bufio"
	"container/list"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/flowscope-go/flowscope"
	"github.com/flowscope-go/flowscope/conversation"
	"github.com/flowscope-go/flowscope/internal/zeekjson"
)

// Transcripts writes the reassembled byte streams of TCP connections to a
// directory, as tcpflow and "Follow TCP stream" do, from their
// conversation events (conversation.Parser's records). For each
// connection that carried payload it writes:
//
//   - <uid>.orig and <uid>.resp: each side's bytes in order, gaps left out
//     (a side that sent no payload has no file);
//   - with TranscriptConfig.Text, <uid>.txt: both sides interleaved in
//     causal order, each run of bytes under a line naming the side, time
//     and offset, and gaps as lines of their own;
//   - one line in index.jsonl, when the connection ends, with uid,
//     id.orig_h, id.orig_p, id.resp_h, id.resp_p, orig_len, resp_len,
//     orig_sha256, resp_sha256 (of the .orig and .resp files),
//     orig_gap_bytes and resp_gap_bytes.
//
// Files are written as the events come, through buffers. Only a bounded
// number of connections keep their files open at once; the others reopen
// theirs on their next bytes. Flush writes out what is buffered; Close,
// after the last Flush, closes every file.
//
// A Transcripts is a Sink of *conversation.Event; it is not safe for
// concurrent use.
type Transcripts struct {
	dir     string
	maxOpen int
	text    bool

	conns map[*flowscope.Conn]*transcript
	open  *list.List // of *transcript with open files, most recent at the front
	index *os.File
	iw    *bufio.Writer
	buf   []byte
	free  []*bufio.Writer // the buffers of closed files, for reuse
}

// TranscriptConfig sets what Transcripts writes. The zero value means
// the defaults; a nil *TranscriptConfig passed to NewTranscripts does too.
type TranscriptConfig struct {
	// Text turns on the readable <uid>.txt files. Off by default: they
	// hold every byte a second time, and creating a third file per
	// connection is a large part of the cost of writing transcripts.
	Text bool
	// MaxOpen is how many connections keep their files open at once (the
	// least recently written ones close theirs beyond it). Zero means
	// DefaultMaxOpenTranscripts, lowered to fit the process's limit on
	// open files.
	MaxOpen int
}

// DefaultMaxOpenTranscripts bounds how many connections keep their files
// open at once; NewTranscripts lowers it to fit the process's limit on
// open files.
const DefaultMaxOpenTranscripts = 1024

// transcriptBuffer is the write buffer of each open file: connections
// write segment by segment, and a system call per segment was most of
// the cost of writing transcripts.
const transcriptBuffer = 4 << 10

// maxOpenFor returns how many connections may keep their three files open
// under a limit of nofile open files, keeping some for everything else.
func maxOpenFor(nofile uint64) int {
	return int(min(max((nofile-min(nofile, 128))/3, 16), DefaultMaxOpenTranscripts))
}

// NewTranscripts creates dir if needed and index.jsonl in it.
func NewTranscripts(dir string, cfg *TranscriptConfig) (*Transcripts, error) {
	var c TranscriptConfig
	if cfg != nil {
		c = *cfg
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("transcripts: %w", err)
	}
	f, err := os.Create(filepath.Join(dir, "index.jsonl"))
	if err != nil {
		return nil, fmt.Errorf("transcripts: %w", err)
	}
	t := &Transcripts{dir: dir, maxOpen: c.MaxOpen, text: c.Text,
		conns: map[*flowscope.Conn]*transcript{}, open: list.New(), index: f, iw: bufio.NewWriter(f)}
	if t.maxOpen <= 0 {
		t.maxOpen = maxOpenFor(openFileLimit())
	}
	return t, nil
}

// transcript is one connection's files and running hashes.
type transcript struct {
	conn     *flowscope.Conn
	created  bool // the connection had payload
	n, gap   [2]uint64
	lastSide flowscope.Side

	files [3]*os.File // orig, resp, txt; nil when not open
	bw    [3]*bufio.Writer
	made  [3]bool // the file was created
	elem  *list.Element
	sum   [2]hash.Hash
}

const txtFile = 2

var sideNames = [2]string{"orig", "resp"}

// Write writes the events' bytes to their connections' files, and the
// index line of each connection that ends.
func (t *Transcripts) Write(_ context.Context, evs []*conversation.Event) error {
	for _, e := range evs {
		c := t.conns[e.Conn]
		if c == nil {
			if e.Kind == conversation.End {
				continue // no bytes, no gaps: nothing to write
			}
			c = &transcript{conn: e.Conn, lastSide: 255}
			t.conns[e.Conn] = c
		}
		var err error
		switch e.Kind {
		case conversation.Data:
			err = t.data(c, e)
		case conversation.Gap:
			c.gap[e.Side] += e.Gap
			if c.created && t.text {
				err = t.textLine(c, "\n--- %s gap: %d bytes missing at offset %d (%s)\n", sideNames[e.Side], e.Gap, e.Offset, stamp(e.Time))
				c.lastSide = 255
			}
		case conversation.End:
			delete(t.conns, e.Conn)
			err = t.end(c, e)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (t *Transcripts) data(c *transcript, e *conversation.Event) error {
	s := e.Side
	c.created = true
	c.n[s] += uint64(len(e.Bytes))
	if c.sum[0] == nil {
		c.sum = [2]hash.Hash{sha256.New(), sha256.New()}
	}
	c.sum[s].Write(e.Bytes)
	if err := t.write(c, int(s), e.Bytes); err != nil {
		return err
	}
	if !t.text {
		return nil
	}
	if c.lastSide != s {
		from, to := c.conn.Orig, c.conn.Resp
		if s == flowscope.Resp {
			from, to = to, from
		}
		if err := t.textLine(c, "\n--- %s %s -> %s at offset %d (%s)\n", sideNames[s], from, to, e.Offset, stamp(e.Time)); err != nil {
			return err
		}
		c.lastSide = s
	}
	return t.write(c, txtFile, e.Bytes)
}

func (t *Transcripts) textLine(c *transcript, format string, args ...any) error {
	t.buf = fmt.Appendf(t.buf[:0], format, args...)
	return t.write(c, txtFile, t.buf)
}

// write appends b to file i of c, opening it when it is not.
func (t *Transcripts) write(c *transcript, i int, b []byte) error {
	t.touch(c)
	bw, err := t.fileWriter(c, i)
	if err == nil {
		_, err = bw.Write(b)
	}
	if err != nil {
		return fmt.Errorf("transcripts: %w", err)
	}
	return nil
}

// end closes a connection's files and writes its index line.
func (t *Transcripts) end(c *transcript, e *conversation.Event) error {
	if !c.created {
		return nil // no payload: no files, no index line
	}
	if t.text && e.Record != nil {
		if err := t.textLine(c, "\n--- end: %s (%s)\n", e.Record.Reason, stamp(e.Record.Last)); err != nil {
			return err
		}
	}
	if c.elem != nil {
		t.open.Remove(c.elem)
		c.elem = nil
	}
	if err := t.closeFiles(c); err != nil {
		return err
	}
	b := append(t.buf[:0], `{"uid":`...)
	b = zeekjson.AppendString(b, c.conn.UID)
	b = append(b, `,"id.orig_h":"`...)
	b = c.conn.Orig.Addr().AppendTo(b)
	b = append(b, `","id.orig_p":`...)
	b = strconv.AppendUint(b, uint64(c.conn.Orig.Port()), 10)
	b = append(b, `,"id.resp_h":"`...)
	b = c.conn.Resp.Addr().AppendTo(b)
	b = append(b, `","id.resp_p":`...)
	b = strconv.AppendUint(b, uint64(c.conn.Resp.Port()), 10)
	for s, name := range sideNames {
		b = append(b, `,"`...)
		b = append(b, name...)
		b = append(b, `_len":`...)
		b = strconv.AppendUint(b, c.n[s], 10)
	}
	for s, name := range sideNames {
		b = append(b, `,"`...)
		b = append(b, name...)
		b = append(b, `_sha256":"`...)
		b = hex.AppendEncode(b, c.sum[s].Sum(nil))
		b = append(b, '"')
	}
	for s, name := range sideNames {
		b = append(b, `,"`...)
		b = append(b, name...)
		b = append(b, `_gap_bytes":`...)
		b = strconv.AppendUint(b, c.gap[s], 10)
	}
	b = append(b, "}\n"...)
	t.buf = b
	if _, err := t.iw.Write(b); err != nil {
		return fmt.Errorf("write transcript index: %w", err)
	}
	return nil
}

// touch marks the connection most recently written, making room among
// the connections with open files by closing the least recently written
// one's.
func (t *Transcripts) touch(c *transcript) {
	if c.elem != nil {
		t.open.MoveToFront(c.elem)
		return
	}
	for t.open.Len() >= t.maxOpen {
		old := t.open.Back()
		oc := old.Value.(*transcript)
		_ = t.closeFiles(oc) // an error closing shows again at the next write or Close
		oc.elem = nil
		t.open.Remove(old)
	}
	c.elem = t.open.PushFront(c)
}

var fileExts = [3]string{".orig", ".resp", ".txt"}

// fileWriter returns the buffered writer of file i, creating the file on
// its first use and reopening it for appending after the connection lost
// its place among the open ones.
func (t *Transcripts) fileWriter(c *transcript, i int) (*bufio.Writer, error) {
	if c.bw[i] != nil {
		return c.bw[i], nil
	}
	flags := os.O_WRONLY | os.O_CREATE | os.O_APPEND
	if !c.made[i] {
		flags = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	}
	f, err := os.OpenFile(filepath.Join(t.dir, c.conn.UID+fileExts[i]), flags, 0o644)
	if err != nil {
		return nil, err
	}
	c.files[i] = f
	if n := len(t.free); n > 0 {
		c.bw[i] = t.free[n-1]
		t.free = t.free[:n-1]
		c.bw[i].Reset(f)
	} else {
		c.bw[i] = bufio.NewWriterSize(f, transcriptBuffer)
	}
	if !c.made[i] {
		c.made[i] = true
		if i == txtFile {
			fmt.Fprintf(c.bw[i], "# flowscope transcript %s: tcp %s -> %s\n", c.conn.UID, c.conn.Orig, c.conn.Resp)
		}
	}
	return c.bw[i], nil
}

// closeFiles flushes and closes whichever of the connection's files are
// open, and returns the first error.
func (t *Transcripts) closeFiles(c *transcript) error {
	var first error
	for i, f := range c.files {
		if f == nil {
			continue
		}
		if err := c.bw[i].Flush(); err != nil && first == nil {
			first = err
		}
		c.bw[i].Reset(nil)
		t.free = append(t.free, c.bw[i])
		c.bw[i] = nil
		if err := f.Close(); err != nil && first == nil {
			first = err
		}
		c.files[i] = nil
	}
	if first != nil {
		return fmt.Errorf("transcripts: %w", first)
	}
	return nil
}

func stamp(ns int64) string {
	return time.Unix(0, ns).UTC().Format("2006-01-02T15:04:05.000000Z")
}

// Flush writes buffered index lines out.
func (t *Transcripts) Flush() error {
	if err := t.iw.Flush(); err != nil {
		return fmt.Errorf("write transcript index: %w", err)
	}
	return nil
}

// Close closes the files of connections that did not end (a run that
// was stopped) and index.jsonl, and returns the first error.
func (t *Transcripts) Close() error {
	var errs []error
	for e := t.open.Front(); e != nil; e = e.Next() {
		errs = append(errs, t.closeFiles(e.Value.(*transcript)))
	}
	t.open.Init()
	clear(t.conns)
	if err := t.iw.Flush(); err != nil {
		errs = append(errs, fmt.Errorf("write transcript index: %w", err))
	}
	if err := t.index.Close(); err != nil {
		errs = append(errs, fmt.Errorf("transcripts: %w", err))
	}
	return errors.Join(errs...)
}

var _ Sink[*conversation.Event] = (*Transcripts)(nil)
