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
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/flowscope-go/flowscope"
)

// Transcripts writes the reassembled byte streams of TCP connections to a
// directory, as tcpflow and "Follow TCP stream" do. For each connection
// that carried payload it writes:
//
//   - <uid>.orig and <uid>.resp: each side's bytes in order, gaps left out
//     (a side that sent no payload has no file);
//   - with SetText, <uid>.txt: both sides interleaved in the order the handler receives
//     them (wrap NewStream with conversation.Ordered, as the flowscope
//     command does, for causal order), each run of bytes under a line
//     naming the side, time and offset, and gaps as lines of their own;
//   - one line in index.jsonl with uid, id.orig_h, id.orig_p, id.resp_h,
//     id.resp_p, orig_len, resp_len, orig_sha256, resp_sha256 (of the
//     .orig and .resp files), orig_gap_bytes and resp_gap_bytes.
//
// Files are written as the streams go; only a bounded number of
// connections keep their files open at once (the others reopen theirs on
// their next bytes). Wire it in two places: NewStream as the tracker's
// Config.NewStream, and Index as a sink of the flow events, which writes
// index lines in the order of the records.
//
// Transcripts is safe for concurrent use by several trackers.
type Transcripts struct {
	dir     string
	maxOpen int
	text    bool

	mu    sync.Mutex
	open  *list.List // of *transcript with open files, most recent at the front
	done  map[string]*transcript
	err   error
	index *os.File
	iw    *bufio.Writer
	buf   []byte
}

// DefaultMaxOpenTranscripts bounds how many connections keep their three
// files open at once; NewTranscripts lowers it to fit the process's limit
// on open files.
const DefaultMaxOpenTranscripts = 1024

// transcriptBuffer is the write buffer of each open file: connections
// write segment by segment, and a system call per segment was most of
// the cost of writing transcripts.
const transcriptBuffer = 4 << 10

var writerPool = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, transcriptBuffer) }}

// maxOpenFor returns how many connections may keep their three files open
// under a limit of nofile open files, keeping some for everything else.
func maxOpenFor(nofile uint64) int {
	return int(min(max((nofile-min(nofile, 128))/3, 16), DefaultMaxOpenTranscripts))
}

// NewTranscripts creates dir if needed and index.jsonl in it.
func NewTranscripts(dir string) (*Transcripts, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("transcripts: %w", err)
	}
	f, err := os.Create(filepath.Join(dir, "index.jsonl"))
	if err != nil {
		return nil, fmt.Errorf("transcripts: %w", err)
	}
	return &Transcripts{
		dir: dir, maxOpen: maxOpenFor(openFileLimit()),
		open: list.New(), done: map[string]*transcript{},
		index: f, iw: bufio.NewWriter(f),
	}, nil
}

// SetText turns the readable <uid>.txt files on or off (off by default:
// they hold every byte a second time, and creating a third file per
// connection is a large part of the cost of writing transcripts). Call
// it before the first stream.
func (t *Transcripts) SetText(on bool) { t.text = on }

// SetMaxOpen sets how many connections keep their files open at once
// (at least 1); the least recently written ones close theirs beyond it.
// Call it before the first stream.
func (t *Transcripts) SetMaxOpen(n int) { t.maxOpen = max(n, 1) }

// NewStream returns the handler for a new TCP connection; it fits
// flowscope.Config.NewStream.
func (t *Transcripts) NewStream(rec *flowscope.FlowRecord) flowscope.StreamHandler {
	return &transcript{t: t, uid: rec.UID(), orig: endpointOf(rec.Orig), resp: endpointOf(rec.Resp),
		lastSide: 255}
}

// Index returns the sink that writes index.jsonl: for each ended TCP flow
// whose connection had payload, one line.
func (t *Transcripts) Index() Sink[flowscope.FlowEvent] { return (*transcriptIndex)(t) }

// Close closes every file still open and index.jsonl, and returns the
// first error met while writing.
func (t *Transcripts) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	for e := t.open.Front(); e != nil; e = e.Next() {
		c := e.Value.(*transcript)
		c.closeFiles()
		c.elem = nil
	}
	t.open.Init()
	if err := t.iw.Flush(); err != nil && t.err == nil {
		t.err = err
	}
	if err := t.index.Close(); err != nil && t.err == nil {
		t.err = err
	}
	return t.err
}

func (t *Transcripts) fail(err error) {
	if err != nil && t.err == nil {
		t.err = err
	}
}

func endpointOf(e flowscope.Endpoint) netip.AddrPort {
	return netip.AddrPortFrom(e.Addr.Netip(), e.Port)
}

// transcript is one connection's files and running hashes.
type transcript struct {
	t          *Transcripts
	uid        string
	orig, resp netip.AddrPort
	files      [3]*os.File // orig, resp, txt; nil when not open
	w          [3]*bufio.Writer
	made       [3]bool // the file was created
	created    bool    // the connection had payload
	elem       *list.Element
	sum        [2]hash.Hash
	n, gap     [2]uint64
	lastSide   flowscope.Side
	sums       [2]string // hex digests, once ended
}

const txtFile = 2

var sideNames = [2]string{"orig", "resp"}

// ensureOpen marks the connection most recently used, making room among
// the connections with open files by closing the least recently used
// one's. The files themselves open on first use (writer). The caller
// holds t.mu.
func (c *transcript) ensureOpen() bool {
	t := c.t
	if c.elem != nil {
		t.open.MoveToFront(c.elem)
		return true
	}
	for t.open.Len() >= t.maxOpen {
		old := t.open.Back()
		oc := old.Value.(*transcript)
		oc.closeFiles()
		oc.elem = nil
		t.open.Remove(old)
	}
	if !c.created {
		c.created = true
		c.sum = [2]hash.Hash{sha256.New(), sha256.New()}
	}
	c.elem = t.open.PushFront(c)
	return true
}

var fileExts = [3]string{".orig", ".resp", ".txt"}

// writer returns the buffered writer of file i, creating the file on its
// first use and reopening it for appending after the connection lost its
// place among the open ones; nil after an error. The caller holds t.mu
// and has called ensureOpen.
func (c *transcript) writer(i int) *bufio.Writer {
	if c.w[i] != nil {
		return c.w[i]
	}
	flags := os.O_WRONLY | os.O_CREATE | os.O_APPEND
	if !c.made[i] {
		flags = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	}
	f, err := os.OpenFile(filepath.Join(c.t.dir, c.uid+fileExts[i]), flags, 0o644)
	if err != nil {
		c.t.fail(fmt.Errorf("transcripts: %w", err))
		return nil
	}
	c.files[i] = f
	c.w[i] = writerPool.Get().(*bufio.Writer)
	c.w[i].Reset(f)
	if !c.made[i] {
		c.made[i] = true
		if i == txtFile {
			fmt.Fprintf(c.w[i], "# flowscope transcript %s: tcp %s -> %s\n", c.uid, c.orig, c.resp)
		}
	}
	return c.w[i]
}

// closeFiles flushes and closes whichever of the connection's files are
// open.
func (c *transcript) closeFiles() {
	for i, f := range c.files {
		if f == nil {
			continue
		}
		if w := c.w[i]; w != nil {
			c.t.fail(w.Flush())
			w.Reset(nil)
			writerPool.Put(w)
			c.w[i] = nil
		}
		c.t.fail(f.Close())
		c.files[i] = nil
	}
}

// Chunk writes one piece of a stream.
func (c *transcript) Chunk(ch *flowscope.Chunk) {
	t := c.t
	t.mu.Lock()
	defer t.mu.Unlock()
	s := ch.Side
	if ch.Gap > 0 {
		c.gap[s] += ch.Gap
		if c.created && t.text && c.ensureOpen() {
			if w := c.writer(txtFile); w != nil {
				_, err := fmt.Fprintf(w, "\n--- %s gap: %d bytes missing at offset %d (%s)\n",
					sideNames[s], ch.Gap, ch.Offset, stamp(ch.Time))
				t.fail(err)
			}
			c.lastSide = 255
		}
		return
	}
	if len(ch.Bytes) == 0 || !c.ensureOpen() {
		return
	}
	c.sum[s].Write(ch.Bytes)
	c.n[s] += uint64(len(ch.Bytes))
	w := c.writer(int(s))
	if w == nil {
		return
	}
	_, err := w.Write(ch.Bytes)
	t.fail(err)
	if !t.text {
		return
	}
	txt := c.writer(txtFile)
	if txt == nil {
		return
	}
	if c.lastSide != s {
		from, to := c.orig, c.resp
		if s == flowscope.Resp {
			from, to = to, from
		}
		_, err = fmt.Fprintf(txt, "\n--- %s %s -> %s at offset %d (%s)\n", sideNames[s], from, to, ch.Offset, stamp(ch.Time))
		t.fail(err)
		c.lastSide = s
	}
	_, err = txt.Write(ch.Bytes)
	t.fail(err)
}

// End closes the connection's files and leaves its index entry for the
// index sink.
func (c *transcript) End(rec *flowscope.FlowRecord) {
	t := c.t
	t.mu.Lock()
	defer t.mu.Unlock()
	if !c.created {
		return // no payload: no files, no index line
	}
	if t.text && c.ensureOpen() {
		if w := c.writer(txtFile); w != nil {
			_, err := fmt.Fprintf(w, "\n--- end: %s (%s)\n", rec.Reason, stamp(rec.Last))
			t.fail(err)
		}
	}
	if c.elem != nil {
		t.open.Remove(c.elem)
		c.elem = nil
	}
	c.closeFiles()
	for s := range c.sum {
		c.sums[s] = hex.EncodeToString(c.sum[s].Sum(nil))
		c.sum[s] = nil
	}
	t.done[c.uid] = c
}

func stamp(ns int64) string {
	return time.Unix(0, ns).UTC().Format("2006-01-02T15:04:05.000000Z")
}

// transcriptIndex writes index.jsonl lines in the order of flow records.
type transcriptIndex Transcripts

// Write appends the index lines of the ended TCP flows among evs.
func (x *transcriptIndex) Write(_ context.Context, evs []flowscope.FlowEvent) error {
	t := (*Transcripts)(x)
	t.mu.Lock()
	defer t.mu.Unlock()
	for i := range evs {
		r := &evs[i].Flow
		if evs[i].Kind != flowscope.FlowEnded || r.Proto != 6 {
			continue
		}
		uid := string(r.AppendUID(t.buf[:0]))
		c := t.done[uid]
		if c == nil {
			continue
		}
		delete(t.done, uid)
		b := append(t.buf[:0], `{"uid":"`...)
		b = append(b, uid...)
		b = append(b, `","id.orig_h":"`...)
		b = c.orig.Addr().AppendTo(b)
		b = append(b, `","id.orig_p":`...)
		b = strconv.AppendUint(b, uint64(c.orig.Port()), 10)
		b = append(b, `,"id.resp_h":"`...)
		b = c.resp.Addr().AppendTo(b)
		b = append(b, `","id.resp_p":`...)
		b = strconv.AppendUint(b, uint64(c.resp.Port()), 10)
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
			b = append(b, c.sums[s]...)
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
	}
	return t.err
}

// Flush writes buffered index lines out.
func (x *transcriptIndex) Flush() error {
	t := (*Transcripts)(x)
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.iw.Flush(); err != nil {
		return fmt.Errorf("write transcript index: %w", err)
	}
	if len(t.done) > 0 {
		return errors.New("transcripts: connections ended without their flow records")
	}
	return t.err
}

var _ Sink[flowscope.FlowEvent] = (*transcriptIndex)(nil)
