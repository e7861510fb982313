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
// Files are written as the streams go, by a goroutine of their own, so
// that creating and writing files (most of the cost) runs beside flow
// tracking: the handlers copy each chunk into a job for it. Only a
// bounded number of connections keep their files open at once (the
// others reopen theirs on their next bytes). Wire it in two places:
// NewStream as the tracker's Config.NewStream, and Index as a sink of the
// flow events, which writes index lines in the order of the records.
// Close stops the writer.
//
// Transcripts is safe for concurrent use by several trackers.
type Transcripts struct {
	dir     string
	maxOpen int
	text    bool

	writers []*fileWriterState // connections go to one by their uid
	free    chan []byte        // job buffers for reuse
	stop    sync.Once

	mu     sync.Mutex
	cond   *sync.Cond     // broadcast when the writer finishes a connection
	ending map[string]int // connections handed to the writer to finish, by uid
	done   map[string]*transcript
	err    error
	index  *os.File
	iw     *bufio.Writer
	buf    []byte
}

// fileWriterState is one writer goroutine's: its jobs and the
// connections with files open.
type fileWriterState struct {
	jobs    chan job
	done    chan struct{} // closed when the writer has finished
	open    *list.List    // of *transcript with open files, most recent at the front
	maxOpen int
}

// numWriters is how many goroutines write files: creating and writing
// files costs more than everything else, and two goroutines share the
// work of a two-core machine.
const numWriters = 2

// job is bytes for one of a connection's files, or (file < 0) the end of
// the connection.
type job struct {
	c    *transcript
	file int
	b    []byte
}

// DefaultMaxOpenTranscripts bounds how many connections keep their files
// open at once; NewTranscripts lowers it to fit the process's limit on
// open files.
const DefaultMaxOpenTranscripts = 1024

// transcriptBuffer is the write buffer of each open file: connections
// write segment by segment, and a system call per segment was most of
// the cost of writing transcripts.
const transcriptBuffer = 4 << 10

// Jobs waiting for the writer, and the size of the buffers kept for them
// (a full-size segment fits).
const (
	maxJobs      = 1024
	jobBufferCap = 2048
)

var writerPool = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, transcriptBuffer) }}

// maxOpenFor returns how many connections may keep their three files open
// under a limit of nofile open files, keeping some for everything else.
func maxOpenFor(nofile uint64) int {
	return int(min(max((nofile-min(nofile, 128))/3, 16), DefaultMaxOpenTranscripts))
}

// NewTranscripts creates dir if needed and index.jsonl in it, and starts
// the writer.
func NewTranscripts(dir string) (*Transcripts, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("transcripts: %w", err)
	}
	f, err := os.Create(filepath.Join(dir, "index.jsonl"))
	if err != nil {
		return nil, fmt.Errorf("transcripts: %w", err)
	}
	t := &Transcripts{
		dir: dir, maxOpen: maxOpenFor(openFileLimit()),
		free: make(chan []byte, maxJobs+16),
		done: map[string]*transcript{}, ending: map[string]int{},
		index: f, iw: bufio.NewWriter(f),
	}
	t.cond = sync.NewCond(&t.mu)
	for range numWriters {
		w := &fileWriterState{jobs: make(chan job, maxJobs/numWriters), done: make(chan struct{}), open: list.New()}
		t.writers = append(t.writers, w)
		go t.writer(w)
	}
	return t, nil
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
	uid := rec.UID()
	return &transcript{t: t, w: t.writers[int(uid[len(uid)-1])%len(t.writers)], uid: uid,
		orig: endpointOf(rec.Orig), resp: endpointOf(rec.Resp), lastSide: 255}
}

// Index returns the sink that writes index.jsonl: for each ended TCP flow
// whose connection had payload, one line.
func (t *Transcripts) Index() Sink[flowscope.FlowEvent] { return (*transcriptIndex)(t) }

// Close waits for the writer to write everything handed to it, closes
// every file still open and index.jsonl, and returns the first error met
// while writing.
func (t *Transcripts) Close() error {
	t.stopWriters()
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.iw.Flush(); err != nil && t.err == nil {
		t.err = err
	}
	if err := t.index.Close(); err != nil && t.err == nil {
		t.err = err
	}
	return t.err
}

// stopWriters closes the writers' queues and waits for them to write
// what they hold and close their files.
func (t *Transcripts) stopWriters() {
	t.stop.Do(func() {
		for _, w := range t.writers {
			close(w.jobs)
		}
	})
	for _, w := range t.writers {
		<-w.done
	}
}

// fail records the first error. The caller holds t.mu.
func (t *Transcripts) fail(err error) {
	if err != nil && t.err == nil {
		t.err = err
	}
}

// failLocked records the first error from the writer goroutine.
func (t *Transcripts) failLocked(err error) {
	if err != nil {
		t.mu.Lock()
		t.fail(err)
		t.mu.Unlock()
	}
}

func endpointOf(e flowscope.Endpoint) netip.AddrPort {
	return netip.AddrPortFrom(e.Addr.Netip(), e.Port)
}

// transcript is one connection's files and running hashes. Its first
// fields belong to the tracker that feeds it, the rest to the writer.
type transcript struct {
	t          *Transcripts
	w          *fileWriterState
	uid        string
	orig, resp netip.AddrPort
	created    bool // the connection had payload
	n, gap     [2]uint64
	lastSide   flowscope.Side

	// The writer's.
	files [3]*os.File // orig, resp, txt; nil when not open
	bw    [3]*bufio.Writer
	made  [3]bool // the file was created
	elem  *list.Element
	sum   [2]hash.Hash
	sums  [2]string // hex digests, once ended
}

const txtFile = 2

var sideNames = [2]string{"orig", "resp"}

// send hands bytes for file i to the writer, copied.
func (c *transcript) send(i int, b []byte) {
	var buf []byte
	if len(b) <= jobBufferCap {
		select {
		case buf = <-c.t.free:
		default:
			buf = make([]byte, 0, jobBufferCap)
		}
	}
	c.w.jobs <- job{c: c, file: i, b: append(buf[:0], b...)}
}

// sendText hands a line of the readable transcript to the writer.
func (c *transcript) sendText(format string, args ...any) {
	c.send(txtFile, fmt.Appendf(nil, format, args...))
}

// Chunk passes one piece of a stream to the writer.
func (c *transcript) Chunk(ch *flowscope.Chunk) {
	t := c.t
	s := ch.Side
	if ch.Gap > 0 {
		c.gap[s] += ch.Gap
		if c.created && t.text {
			c.sendText("\n--- %s gap: %d bytes missing at offset %d (%s)\n", sideNames[s], ch.Gap, ch.Offset, stamp(ch.Time))
			c.lastSide = 255
		}
		return
	}
	if len(ch.Bytes) == 0 {
		return
	}
	c.created = true
	c.n[s] += uint64(len(ch.Bytes))
	c.send(int(s), ch.Bytes)
	if !t.text {
		return
	}
	if c.lastSide != s {
		from, to := c.orig, c.resp
		if s == flowscope.Resp {
			from, to = to, from
		}
		c.sendText("\n--- %s %s -> %s at offset %d (%s)\n", sideNames[s], from, to, ch.Offset, stamp(ch.Time))
		c.lastSide = s
	}
	c.send(txtFile, ch.Bytes)
}

// End tells the writer the connection is over: it closes the files and
// leaves the index entry for the index sink.
func (c *transcript) End(rec *flowscope.FlowRecord) {
	if !c.created {
		return // no payload: no files, no index line
	}
	t := c.t
	if t.text {
		c.sendText("\n--- end: %s (%s)\n", rec.Reason, stamp(rec.Last))
	}
	t.mu.Lock()
	t.ending[c.uid]++
	t.mu.Unlock()
	c.w.jobs <- job{c: c, file: -1}
}

// writer runs w's jobs in the order they were handed over, then closes
// the files still open.
func (t *Transcripts) writer(w *fileWriterState) {
	defer close(w.done)
	defer func() {
		for e := w.open.Front(); e != nil; e = e.Next() {
			c := e.Value.(*transcript)
			t.closeFiles(c)
			c.elem = nil
		}
		w.open.Init()
	}()
	for j := range w.jobs {
		c := j.c
		if j.file < 0 {
			t.finish(c)
			continue
		}
		if c.sum[0] == nil {
			c.sum = [2]hash.Hash{sha256.New(), sha256.New()}
		}
		if j.file < txtFile {
			c.sum[j.file].Write(j.b)
		}
		t.touch(c)
		if bw := t.fileWriter(c, j.file); bw != nil {
			_, err := bw.Write(j.b)
			t.failLocked(err)
		}
		if cap(j.b) == jobBufferCap {
			select {
			case t.free <- j.b[:0]:
			default:
			}
		}
	}
}

// touch marks the connection most recently used, making room among the
// connections with open files by closing the least recently used one's.
func (t *Transcripts) touch(c *transcript) {
	open := c.w.open
	if c.w.maxOpen == 0 { // read here, after the jobs: SetMaxOpen comes after the writers start
		c.w.maxOpen = max(t.maxOpen/len(t.writers), 1)
	}
	if c.elem != nil {
		open.MoveToFront(c.elem)
		return
	}
	for open.Len() >= c.w.maxOpen {
		old := open.Back()
		oc := old.Value.(*transcript)
		t.closeFiles(oc)
		oc.elem = nil
		open.Remove(old)
	}
	c.elem = open.PushFront(c)
}

var fileExts = [3]string{".orig", ".resp", ".txt"}

// fileWriter returns the buffered writer of file i, creating the file on
// its first use and reopening it for appending after the connection lost
// its place among the open ones; nil after an error.
func (t *Transcripts) fileWriter(c *transcript, i int) *bufio.Writer {
	if c.bw[i] != nil {
		return c.bw[i]
	}
	flags := os.O_WRONLY | os.O_CREATE | os.O_APPEND
	if !c.made[i] {
		flags = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	}
	f, err := os.OpenFile(filepath.Join(t.dir, c.uid+fileExts[i]), flags, 0o644)
	if err != nil {
		t.failLocked(fmt.Errorf("transcripts: %w", err))
		return nil
	}
	c.files[i] = f
	c.bw[i] = writerPool.Get().(*bufio.Writer)
	c.bw[i].Reset(f)
	if !c.made[i] {
		c.made[i] = true
		if i == txtFile {
			fmt.Fprintf(c.bw[i], "# flowscope transcript %s: tcp %s -> %s\n", c.uid, c.orig, c.resp)
		}
	}
	return c.bw[i]
}

// closeFiles flushes and closes whichever of the connection's files are
// open.
func (t *Transcripts) closeFiles(c *transcript) {
	for i, f := range c.files {
		if f == nil {
			continue
		}
		if w := c.bw[i]; w != nil {
			t.failLocked(w.Flush())
			w.Reset(nil)
			writerPool.Put(w)
			c.bw[i] = nil
		}
		t.failLocked(f.Close())
		c.files[i] = nil
	}
}

// finish closes a connection's files and hands its index entry to the
// index sink.
func (t *Transcripts) finish(c *transcript) {
	if c.elem != nil {
		c.w.open.Remove(c.elem)
		c.elem = nil
	}
	t.closeFiles(c)
	if c.sum[0] == nil {
		c.sum = [2]hash.Hash{sha256.New(), sha256.New()}
	}
	for s := range c.sum {
		c.sums[s] = hex.EncodeToString(c.sum[s].Sum(nil))
		c.sum[s] = nil
	}
	t.mu.Lock()
	t.done[c.uid] = c
	if t.ending[c.uid]--; t.ending[c.uid] <= 0 {
		delete(t.ending, c.uid)
	}
	t.cond.Broadcast()
	t.mu.Unlock()
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
		for t.done[uid] == nil && t.ending[uid] > 0 {
			t.cond.Wait() // the writer has not finished this connection yet
		}
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
	for len(t.ending) > 0 {
		t.cond.Wait()
	}
	if err := t.iw.Flush(); err != nil {
		return fmt.Errorf("write transcript index: %w", err)
	}
	if len(t.done) > 0 {
		return errors.New("transcripts: connections ended without their flow records")
	}
	return t.err
}

var _ Sink[flowscope.FlowEvent] = (*transcriptIndex)(nil)
