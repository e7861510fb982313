package source

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/gopacket/gopacket/layers"

	"github.com/flowscope-go/flowscope"
	"github.com/flowscope-go/flowscope/flowkey"
)

// Sentinel causes carried by FileError, for errors.Is.
var (
	ErrEmptyFile       = errors.New("empty file")
	ErrNotCapture      = errors.New("not a pcap or pcapng file")
	ErrUnsupportedLink = errors.New("unsupported link type")
	ErrTruncatedRecord = errors.New("capture record cut short")
	ErrBadRecord       = errors.New("corrupt capture record")
)

// FileError reports a capture file that cannot be read further.
type FileError struct {
	Path string
	// Packet is the 1-based number of the packet being read, 0 when the
	// fault is in the file header.
	Packet uint64
	// Offset is the byte offset of the record (or header) at fault, -1
	// when unknown.
	Offset int64
	Err    error
}

func (e *FileError) Error() string {
	switch {
	case e.Packet == 0:
		return fmt.Sprintf("%s: %v", e.Path, e.Err)
	case e.Offset >= 0:
		return fmt.Sprintf("%s: packet %d at offset %d: %v", e.Path, e.Packet, e.Offset, e.Err)
	}
	return fmt.Sprintf("%s: packet %d: %v", e.Path, e.Packet, e.Err)
}

func (e *FileError) Unwrap() error { return e.Err }

// Files reads pcap and pcapng files one after the other as one stream.
// Files are opened when reading reaches them.
type Files struct {
	paths []string
	// reader, when set, is the only input (see NewReader).
	reader io.Reader
	cur    *fileReader
	next   int
	stats  Stats
	// clamped and bad count the clamped times and bad blocks of the
	// files closed so far; skips notes the first bad blocks.
	clamped, bad uint64
	skips        []*FileError
}

// OpenFiles returns a source over the given capture files, read in order.
// It checks that the first file opens and has a capture header, so a bad
// path fails here rather than mid-pipeline.
func OpenFiles(paths ...string) (*Files, error) {
	if len(paths) == 0 {
		return nil, errors.New("source.OpenFiles: no files")
	}
	f := &Files{paths: paths}
	if err := f.open(); err != nil {
		return nil, err
	}
	return f, nil
}

// NewReader returns a source over one capture held by r (a pcap or pcapng
// stream), named name in errors. It reads the header before returning.
func NewReader(name string, r io.Reader) (*Files, error) {
	f := &Files{paths: []string{name}, reader: r}
	if err := f.open(); err != nil {
		return nil, err
	}
	return f, nil
}

func (f *Files) open() error {
	var r *fileReader
	var err error
	if f.reader != nil {
		r, err = openReader(f.paths[f.next], f.reader, nil)
	} else {
		r, err = openFile(f.paths[f.next])
	}
	if err != nil {
		return err
	}
	f.next++
	f.cur = r
	f.stats.Files++
	return nil
}

// ReadBatch implements Source.
func (f *Files) ReadBatch(ctx context.Context, b *Batch) error {
	b.Reset()
	if err := ctx.Err(); err != nil {
		return err
	}
	defer func() {
		f.stats.Packets += uint64(len(b.Packets))
		f.stats.Bytes += uint64(len(b.Data))
	}()
	for {
		if f.cur == nil {
			if f.next >= len(f.paths) {
				break
			}
			if err := f.open(); err != nil {
				return err
			}
		}
		full, err := f.cur.fill(b)
		if err == io.EOF {
			f.closeCur()
			if full {
				break
			}
			continue
		}
		if err != nil {
			return err
		}
		break
	}
	if len(b.Packets) == 0 {
		return io.EOF
	}
	return nil
}

// closeCur closes the current file, keeping its counts.
func (f *Files) closeCur() {
	f.clamped += f.cur.clamped()
	if ng := f.cur.ng; ng != nil {
		f.bad += ng.skipped
		f.skips = append(f.skips, ng.skips[:min(len(ng.skips), maxSkipNotes-len(f.skips))]...)
	}
	f.cur.close()
	f.cur = nil
}

// Stats implements Source.
func (f *Files) Stats() Stats {
	s := f.stats
	s.TimeClamped, s.BadBlocks = f.clamped, f.bad
	if f.cur != nil {
		s.TimeClamped += f.cur.clamped()
		if ng := f.cur.ng; ng != nil {
			s.BadBlocks += ng.skipped
		}
	}
	return s
}

// Skipped returns the first 16 corrupt stretches of pcapng files passed
// over (Stats.BadBlocks counts them all), each naming file, offset and
// fault, the packet number being the next packet's.
func (f *Files) Skipped() []*FileError {
	out := append([]*FileError(nil), f.skips...)
	if f.cur != nil && f.cur.ng != nil {
		out = append(out, f.cur.ng.skips...)
	}
	return out[:min(len(out), maxSkipNotes)]
}

// Close implements Source.
func (f *Files) Close() error {
	if f.cur != nil {
		f.cur.close()
		f.cur = nil
	}
	f.next = len(f.paths)
	return nil
}

var _ Source = (*Files)(nil)

// fileReader reads one capture file.
type fileReader struct {
	path string
	file io.Closer
	// pos is the byte offset of the next pcap record: the file header,
	// then 16 bytes of record header and the data of each record.
	pos  int64
	pcap *pcapReader
	ng   *ngReader
	link flowkey.LinkType // pcap

	packets uint64 // records read, for error positions

	// pending holds a packet read but not yet placed, when the batch it
	// was read for had no room. Its data lives in the reader's buffer,
	// valid until the next read.
	pending     bool
	pendingPkt  flowscope.Packet
	pendingData []byte
}

const (
	magicMicro  = 0xa1b2c3d4
	magicNano   = 0xa1b23c4d
	magicPcapng = 0x0a0d0d0a
)

func openFile(path string) (*fileReader, error) {
	file, err := os.Open(path)
	if err != nil {
		return nil, err // *PathError already names the file and the cause
	}
	return openReader(path, file, file)
}

// openReader reads the capture header from in; file, if not nil, is
// closed with the reader.
func openReader(path string, in io.Reader, file io.Closer) (*fileReader, error) {
	fail := func(err error) (*fileReader, error) {
		if file != nil {
			file.Close()
		}
		return nil, &FileError{Path: path, Offset: -1, Err: err}
	}
	r := &fileReader{path: path, file: file}
	// A small buffer for the header: the pcap reader's reads of the
	// records are larger and bypass it.
	br := bufio.NewReaderSize(in, pcapChunk)
	magic, err := br.Peek(4)
	if err != nil {
		if !errors.Is(err, io.EOF) {
			return fail(err) // a directory, an I/O error
		}
		if len(magic) == 0 {
			return fail(ErrEmptyFile)
		}
		return fail(fmt.Errorf("%w: %d bytes, too short for a header", ErrNotCapture, len(magic)))
	}
	le, be := binary.LittleEndian.Uint32(magic), binary.BigEndian.Uint32(magic)
	switch {
	case le == magicMicro || be == magicMicro || le == magicNano || be == magicNano:
		pr, err := newPcapReader(br)
		if err != nil {
			return fail(err)
		}
		r.pcap, r.link, r.pos = pr, pr.link, 24
	case le == magicPcapng:
		nr, err := newNgReader(br)
		if err != nil {
			return fail(err)
		}
		r.ng = nr
	default:
		return fail(fmt.Errorf("%w (magic %#08x)", ErrNotCapture, be))
	}
	return r, nil
}

// linkName returns " (NAME)" for link types gopacket knows by name.
func linkName(lt layers.LinkType) string {
	s := lt.String()
	if s == "" || strings.HasPrefix(s, "Unknown") || strings.HasPrefix(s, "LinkType(") {
		return ""
	}
	return " (" + s + ")"
}

// clamped returns the packets of the file whose time was clamped.
func (r *fileReader) clamped() uint64 {
	if r.pcap != nil {
		return r.pcap.clamped
	}
	return r.ng.clamped
}

func (r *fileReader) close() {
	if r.file != nil {
		r.file.Close()
		r.file = nil
	}
}

// fill adds packets to b until it is full (returning full=true) or the
// file ends (io.EOF) or fails.
func (r *fileReader) fill(b *Batch) (full bool, err error) {
	if r.pcap != nil {
		return r.pcap.fill(r, b)
	}
	if r.pending {
		if !b.put(r.pendingPkt, r.pendingData) {
			return true, nil
		}
		r.pending = false
	}
	for {
		p, data, err := r.ng.next(r.path, r.packets+1)
		if err == io.EOF {
			return false, io.EOF
		}
		if err != nil {
			var fe *FileError
			if errors.As(err, &fe) {
				return false, err
			}
			return false, &FileError{Path: r.path, Packet: r.packets + 1, Offset: r.ng.pos, Err: err}
		}
		r.packets++
		if !b.put(p, data) {
			r.pending, r.pendingPkt, r.pendingData = true, p, data
			return true, nil
		}
		if len(b.Packets) == cap(b.Packets) {
			return true, nil
		}
	}
}

func (r *fileReader) recordError(off int64, err error) error {
	e := &FileError{Path: r.path, Packet: r.packets + 1, Offset: off}
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF):
		e.Err = fmt.Errorf("%w: file ends inside the record", ErrTruncatedRecord)
	default:
		e.Err = fmt.Errorf("%w: %v", ErrBadRecord, err)
	}
	return e
}
