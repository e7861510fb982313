package source

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"

	"github.com/flowscope-go/flowscope"
	"github.com/flowscope-go/flowscope/flowkey"
)

// ngReader reads the blocks of a pcapng file (draft-ietf-opsawg-pcapng).
// Every block carries its length at both ends, so a corrupt one can be
// passed over: a block whose lengths agree but whose content is wrong
// (an unknown interface, a capture length beyond the block) is skipped
// whole; a block whose lengths do not agree, or are impossible, is
// skipped byte by byte until a block that checks out begins (a known
// type, a plausible length, the same length at its end). Each skip is
// counted and reported with its byte offset, and reading goes on: the
// packets after a bad block are kept, where tshark stops at it.
//
// Bounds: a block of at most MaxBlockLength bytes; at most MaxInterfaces
// interfaces a section (later interface blocks are skipped, and the
// packets that name them); a packet's capture length at most
// MaxCaptureLength. Timestamps in any resolution (if_tsresol, powers of
// 10 or of 2) and offset (if_tsoffset) are converted with 128-bit
// arithmetic; a time past what int64 nanoseconds hold is clamped and
// counted.
type ngReader struct {
	in  io.Reader
	buf []byte // bytes read from in, from buf[r:w]
	r   int
	w   int
	eof bool
	pos int64 // file offset of buf[r]

	order binary.ByteOrder // of the current section
	ifs   []ngInterface
	// ifsFull is set when a section has more interfaces than the bound.
	ifsFull bool

	skips   []*FileError // the first maxSkipNotes skips
	skipped uint64
	clamped uint64
	last    int64 // the last packet's time
}

// ngInterface is what a packet needs of its interface.
type ngInterface struct {
	link    flowkey.LinkType
	snaplen uint32
	// A timestamp t is t*mul/div (mul a power of ten up to 1e9 and div
	// 1, or mul 1e9 and div a power of two or ten) nanoseconds, plus
	// offset seconds.
	mul, div uint64
	divShift uint // div is 1<<divShift when divPow2
	divPow2  bool
	offset   int64
}

// Bounds of the pcapng reader.
const (
	// MaxBlockLength bounds a pcapng block: Wireshark's limit.
	MaxBlockLength = 16 << 20
	// MaxInterfaces bounds the interfaces of one pcapng section.
	MaxInterfaces = 1 << 16
	maxSkipNotes  = 16
)

const (
	blockSHB    = 0x0a0d0d0a
	blockIDB    = 1
	blockOPB    = 2 // obsolete packet block
	blockSPB    = 3
	blockNRB    = 4
	blockISB    = 5
	blockEPB    = 6
	blockDSB    = 0x0a
	blockCustom = 0x0bad
	blockCustNC = 0x40000bad
	blockJournl = 9
	byteOrder   = 0x1a2b3c4d
)

func knownBlock(t uint32) bool {
	switch t {
	case blockSHB, blockIDB, blockOPB, blockSPB, blockNRB, blockISB, blockEPB, blockDSB, blockCustom, blockCustNC, blockJournl:
		return true
	}
	return false
}

// newNgReader reads the first section header from in.
func newNgReader(in io.Reader) (*ngReader, error) {
	r := &ngReader{in: in, buf: make([]byte, pcapChunk)}
	h, err := r.peek(12)
	if err != nil {
		return nil, fmt.Errorf("%w: bad pcapng section header: %v", ErrNotCapture, err)
	}
	switch binary.LittleEndian.Uint32(h[8:]) {
	case byteOrder:
		r.order = binary.LittleEndian
	case bits.ReverseBytes32(byteOrder):
		r.order = binary.BigEndian
	default:
		return nil, fmt.Errorf("%w: bad pcapng section header: byte-order magic %#x", ErrNotCapture, binary.LittleEndian.Uint32(h[8:]))
	}
	return r, nil
}

// peek returns the next n bytes without consuming them; io.EOF when none
// are left, io.ErrUnexpectedEOF when fewer than n are. The buffer grows
// (doubling) only when it is full of bytes still wanted, so a short file
// never makes it larger than itself whatever lengths it claims; bytes
// are moved to its front only when it is at most half full of them, so
// passing over a file a byte at a time (resync) moves each byte O(1)
// times.
func (r *ngReader) peek(n int) ([]byte, error) {
	for r.w-r.r < n {
		if r.eof {
			if r.w == r.r {
				return nil, io.EOF
			}
			return nil, io.ErrUnexpectedEOF
		}
		if r.w == len(r.buf) {
			live := r.w - r.r
			dst := r.buf
			if live > len(r.buf)/2 {
				dst = make([]byte, 2*len(r.buf))
			}
			copy(dst, r.buf[r.r:r.w])
			r.buf, r.r, r.w = dst, 0, live
		}
		k, err := r.in.Read(r.buf[r.w:])
		r.w += k
		if err == io.EOF {
			r.eof = true
		} else if err != nil {
			return nil, err
		}
	}
	return r.buf[r.r : r.r+n], nil
}

func (r *ngReader) discard(n int) {
	r.r += n
	r.pos += int64(n)
}

// skip records a skipped stretch of the file.
func (r *ngReader) skip(off int64, packet uint64, path, why string) {
	r.skipped++
	if len(r.skips) < maxSkipNotes {
		r.skips = append(r.skips, &FileError{Path: path, Packet: packet, Offset: off, Err: fmt.Errorf("%w: %s", ErrBadBlock, why)})
	}
}

// ErrBadBlock is what the notes of skipped pcapng blocks carry.
var ErrBadBlock = errors.New("bad pcapng block skipped")

// blockAt checks the block header at the reader's position: its type, a
// length that is possible (and agrees with its copy at the block's end),
// and for a section header, the byte order. It returns the length, or
// 0 with why when the block does not check out (cut set when its length
// runs past the end of the file).
func (r *ngReader) blockAt() (n int, why string, cut bool, err error) {
	h, err := r.peek(12)
	if err == io.ErrUnexpectedEOF {
		return 0, "the file ends inside a block header", true, nil
	}
	if err != nil {
		return 0, "", false, err
	}
	order := r.order
	typ := order.Uint32(h)
	if typ == blockSHB {
		switch binary.LittleEndian.Uint32(h[8:]) {
		case byteOrder:
			order = binary.LittleEndian
		case bits.ReverseBytes32(byteOrder):
			order = binary.BigEndian
		default:
			return 0, "section header with a bad byte-order magic", false, nil
		}
	}
	length := order.Uint32(h[4:])
	switch {
	case !knownBlock(typ):
		return 0, fmt.Sprintf("unknown block type %#x", typ), false, nil
	case length < 12 || length%4 != 0:
		return 0, fmt.Sprintf("block length %d (a block is at least 12 bytes, in multiples of 4)", length), false, nil
	case length > MaxBlockLength:
		return 0, fmt.Sprintf("block length %d exceeds the largest accepted, %d", length, MaxBlockLength), false, nil
	}
	b, err := r.peek(int(length))
	if err == io.ErrUnexpectedEOF {
		return 0, fmt.Sprintf("the file ends inside the block (length %d)", length), true, nil
	}
	if err != nil {
		return 0, "", false, err
	}
	if tail := order.Uint32(b[length-4:]); tail != length {
		return 0, fmt.Sprintf("block length %d at its start, %d at its end", length, tail), false, nil
	}
	if typ == blockSHB {
		r.order = order
	}
	return int(length), "", false, nil
}

// resync passes over bytes, one at a time, until a block that checks out
// begins, or the file ends.
func (r *ngReader) resync() error {
	for {
		r.discard(1)
		n, _, _, err := r.blockAt()
		if err != nil || n > 0 {
			return err
		}
	}
}

// next returns the next packet, or io.EOF. The data is valid until the
// next call.
func (r *ngReader) next(path string, packet uint64) (flowscope.Packet, []byte, error) {
	for {
		off := r.pos
		n, why, cut, err := r.blockAt()
		if err != nil {
			return flowscope.Packet{}, nil, err // io.EOF at the end
		}
		if n == 0 {
			err := r.resync()
			if err == io.EOF && cut {
				// No block after it: the file was cut short there.
				return flowscope.Packet{}, nil, &FileError{Path: path, Packet: packet, Offset: off,
					Err: fmt.Errorf("%w: %s", ErrTruncatedRecord, why)}
			}
			r.skip(off, packet, path, why)
			if err != nil {
				return flowscope.Packet{}, nil, err
			}
			continue
		}
		b, _ := r.peek(n)
		p, data, why := r.block(b)
		r.discard(n)
		if why != "" {
			r.skip(off, packet, path, why)
			continue
		}
		if data != nil {
			return p, data, nil
		}
	}
}

// block reads one whole block whose lengths checked out: a packet (data
// not nil), a block that sets state (nil data), or why it is bad.
func (r *ngReader) block(b []byte) (p flowscope.Packet, data []byte, why string) {
	o := r.order
	body := b[8 : len(b)-4]
	switch o.Uint32(b) {
	case blockSHB:
		if len(body) < 16 {
			return p, nil, "section header shorter than 16 bytes"
		}
		r.ifs, r.ifsFull = r.ifs[:0], false
	case blockIDB:
		if len(body) < 8 {
			return p, nil, "interface description shorter than 8 bytes"
		}
		if len(r.ifs) >= MaxInterfaces {
			r.ifsFull = true
			return p, nil, fmt.Sprintf("interface %d beyond the %d a section may have", len(r.ifs), MaxInterfaces)
		}
		r.ifs = append(r.ifs, r.iface(body))
	case blockEPB, blockOPB:
		var id uint32
		var tsHigh, tsLow, capLen, origLen uint32
		if len(body) < 20 {
			return p, nil, "packet block shorter than its 20-byte header"
		}
		if o.Uint32(b) == blockEPB {
			id = o.Uint32(body)
		} else {
			id = uint32(o.Uint16(body))
		}
		tsHigh, tsLow, capLen, origLen = o.Uint32(body[4:]), o.Uint32(body[8:]), o.Uint32(body[12:]), o.Uint32(body[16:])
		if id >= uint32(len(r.ifs)) {
			return p, nil, fmt.Sprintf("packet of interface %d, of which the section has %d", id, len(r.ifs))
		}
		if capLen > uint32(len(body)-20) {
			return p, nil, fmt.Sprintf("capture length %d exceeds the block's %d bytes of data", capLen, len(body)-20)
		}
		if capLen > MaxCaptureLength {
			return p, nil, fmt.Sprintf("capture length %d exceeds the largest accepted, %d", capLen, MaxCaptureLength)
		}
		ifc := &r.ifs[id]
		r.last = r.time(ifc, uint64(tsHigh)<<32|uint64(tsLow))
		p = flowscope.Packet{Time: r.last, Length: int(max(origLen, capLen)), LinkType: ifc.link, Interface: int(id)}
		return p, body[20 : 20+capLen], ""
	case blockSPB:
		if len(body) < 4 {
			return p, nil, "simple packet block shorter than 4 bytes"
		}
		if len(r.ifs) == 0 {
			return p, nil, "simple packet block in a section without interfaces"
		}
		ifc := &r.ifs[0]
		origLen := o.Uint32(body)
		capLen := min(uint32(len(body)-4), origLen)
		if ifc.snaplen > 0 {
			capLen = min(capLen, ifc.snaplen)
		}
		if capLen > MaxCaptureLength {
			return p, nil, fmt.Sprintf("capture length %d exceeds the largest accepted, %d", capLen, MaxCaptureLength)
		}
		// A simple packet block has no time: it takes the last packet's.
		p = flowscope.Packet{Time: r.last, Length: int(origLen), LinkType: ifc.link}
		return p, body[4 : 4+capLen], ""
	}
	return p, nil, ""
}

// iface reads an interface description's body: link type, snap length,
// and the options that say how to read its timestamps.
func (r *ngReader) iface(body []byte) ngInterface {
	o := r.order
	ifc := ngInterface{link: flowkey.LinkType(o.Uint16(body)), snaplen: o.Uint32(body[4:]), mul: 1000, div: 1}
	if lt := o.Uint16(body); lt == 0xffff {
		ifc.link = 0xffff
	}
	opts := body[8:]
	for len(opts) >= 4 {
		code, n := o.Uint16(opts), int(o.Uint16(opts[2:]))
		if 4+n > len(opts) {
			break
		}
		v := opts[4 : 4+n]
		switch {
		case code == 0:
			return ifc
		case code == 9 && n >= 1: // if_tsresol
			e := uint(v[0] & 0x7f)
			switch {
			case v[0]&0x80 != 0: // a power of two
				ifc.mul, ifc.div, ifc.divPow2, ifc.divShift = 1e9, 1, true, min(e, 127)
			case e <= 9:
				ifc.mul, ifc.div = pow10(9-e), 1
			default:
				ifc.mul, ifc.div = 1, pow10(min(e-9, 19))
			}
		case code == 14 && n >= 8: // if_tsoffset, seconds
			ifc.offset = int64(o.Uint64(v))
		}
		opts = opts[4+(n+3)&^3:]
	}
	return ifc
}

func pow10(e uint) uint64 {
	p := uint64(1)
	for range e {
		p *= 10
	}
	return p
}

// time converts a timestamp of an interface to Unix nanoseconds,
// clamping (and counting) what int64 does not hold.
func (r *ngReader) time(ifc *ngInterface, ts uint64) int64 {
	hi, lo := bits.Mul64(ts, ifc.mul)
	switch {
	case ifc.divPow2:
		s := ifc.divShift
		if s >= 64 {
			lo, hi = hi>>(s-64), 0
		} else if s > 0 {
			lo, hi = lo>>s|hi<<(64-s), hi>>s
		}
	case ifc.div > 1:
		if hi >= ifc.div {
			hi = math.MaxUint64 // the quotient does not fit: clamped below
		} else {
			lo, _ = bits.Div64(hi, lo, ifc.div)
			hi = 0
		}
	}
	var ns int64
	if hi != 0 || lo > math.MaxInt64 {
		r.clamped++
		ns = math.MaxInt64
	} else {
		ns = int64(lo)
	}
	if ifc.offset != 0 {
		off, ok := mulInt64(ifc.offset, 1e9)
		sum := ns + off
		if !ok || (off > 0 && sum < ns) || (off < 0 && sum > ns) {
			r.clamped++
			if ifc.offset > 0 {
				return math.MaxInt64
			}
			return math.MinInt64
		}
		ns = sum
	}
	return ns
}

func mulInt64(a, b int64) (int64, bool) {
	if a == 0 || b == 0 {
		return 0, true
	}
	c := a * b
	return c, c/b == a && !(a == -1 && b == math.MinInt64) && !(b == -1 && a == math.MinInt64)
}
