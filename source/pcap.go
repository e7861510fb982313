package source

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/gopacket/gopacket/layers"

	"github.com/flowscope-go/flowscope"
	"github.com/flowscope-go/flowscope/flowkey"
)

// pcapReader reads the records of a classic pcap file straight into the
// buffers of the batches it fills: a record's bytes are read from the file
// once, into the place the packet keeps them, instead of into a read
// buffer and then copied into the batch (which is what reading through
// gopacket's pcapgo costs). The bytes of a record that a full batch could
// not take are kept for the next batch.
type pcapReader struct {
	in      io.Reader
	big     bool  // big-endian file
	nano    bool  // nanosecond timestamps
	snaplen int64 // as the header says
	maxCap  int   // the largest capture length accepted
	link    flowkey.LinkType
	carry   []byte // bytes read past the end of the last batch
	eof     bool

	// The 32-bit seconds of a record wrap in 2106: a file written past
	// then counts on from 0. A step back of more than half the range is
	// taken as a wrap (as TCP takes its sequence numbers), so time goes
	// on past 2106; a step forward of as much after a wrap, as a record
	// from before it.
	lastSec uint32
	epoch   int64
	clamped uint64 // records past what int64 nanoseconds hold
}

// pcapChunk and maxPcapChunk bound how much is read from the file at a
// time (see chunk).
const (
	pcapChunk    = 64 << 10
	maxPcapChunk = 256 << 10
)

// MaxCaptureLength is the largest record a capture file may hold,
// whatever its header's snap length says: libpcap's largest snap length.
// Files with a snap length of 0, or smaller than their records, exist,
// and are read up to this; a larger record is an error (a pcap record
// header that claims more is corrupt, or hostile).
const MaxCaptureLength = 262144

// newPcapReader parses the 24-byte file header read from in.
func newPcapReader(in io.Reader) (*pcapReader, error) {
	var h [24]byte
	if _, err := io.ReadFull(in, h[:]); err != nil {
		return nil, fmt.Errorf("%w: bad pcap header: %v", ErrNotCapture, err)
	}
	r := &pcapReader{in: in}
	switch binary.LittleEndian.Uint32(h[0:4]) {
	case magicMicro:
	case magicNano:
		r.nano = true
	default:
		r.big = true
		r.nano = binary.BigEndian.Uint32(h[0:4]) == magicNano
	}
	if major, minor := r.u16(h[4:6]), r.u16(h[6:8]); major != 2 || minor != 4 {
		return nil, fmt.Errorf("%w: bad pcap header: version %d.%d, want 2.4", ErrNotCapture, major, minor)
	}
	r.snaplen = int64(r.u32(h[16:20]))
	r.maxCap = MaxCaptureLength
	lt := r.u32(h[20:24]) & 0x0fffffff // the upper bits may carry an FCS length
	if lt > 0xffff || !flowkey.LinkType(lt).Supported() {
		return nil, fmt.Errorf("%w %d%s", ErrUnsupportedLink, lt, linkName(layers.LinkType(lt)))
	}
	r.link = flowkey.LinkType(lt)
	return r, nil
}

func (r *pcapReader) u16(b []byte) uint16 {
	if r.big {
		return binary.BigEndian.Uint16(b)
	}
	return binary.LittleEndian.Uint16(b)
}

func (r *pcapReader) u32(b []byte) uint32 {
	if r.big {
		return binary.BigEndian.Uint32(b)
	}
	return binary.LittleEndian.Uint32(b)
}

// fill appends whole records to b until it holds its maximum of packets
// or its buffer is full (full=true), or the file ends (io.EOF), or a
// record is corrupt. fr keeps the counts and positions errors name.
func (r *pcapReader) fill(fr *fileReader, b *Batch) (full bool, err error) {
	if cap(b.Packets) == 0 {
		b.Packets = make([]flowscope.Packet, 0, DefaultBatchPackets)
	}
	if cap(b.Data) == 0 {
		b.Data = make([]byte, 0, DefaultBatchBytes)
	}
	data := b.Data
	start := len(data)
	if len(r.carry) > cap(data)-len(data) {
		if start > 0 {
			return true, nil // an earlier file's packets fill this batch
		}
		data = make([]byte, 0, 2*len(r.carry))
	}
	data = append(data, r.carry...)
	r.carry = r.carry[:0]
	pos := start
	defer func() {
		// Bytes past the last whole record wait for the next batch.
		r.carry = append(r.carry, data[pos:]...)
		b.Data = data[:pos]
	}()
	for {
		for len(data)-pos >= 16 {
			if len(b.Packets) == cap(b.Packets) {
				return true, nil
			}
			h := data[pos : pos+16]
			caplen, wire := int(r.u32(h[8:12])), int(r.u32(h[12:16]))
			if caplen > r.maxCap {
				return false, fr.recordError(fr.pos, fmt.Errorf("capture length %d exceeds the largest accepted, %d (snap length %d)", caplen, r.maxCap, r.snaplen))
			}
			if caplen > wire {
				return false, fr.recordError(fr.pos, fmt.Errorf("capture length exceeds original packet length: %d > %d", caplen, wire))
			}
			end := pos + 16 + caplen
			if end > len(data) {
				break
			}
			s32, frac := r.u32(h[0:4]), int64(r.u32(h[4:8]))
			if !r.nano {
				frac *= 1000
			}
			if fr.packets > 0 {
				switch {
				case s32 < r.lastSec && r.lastSec-s32 > 1<<31:
					r.epoch++
				case s32 > r.lastSec && s32-r.lastSec > 1<<31 && r.epoch > 0:
					r.epoch--
				}
			}
			r.lastSec = s32
			b.Packets = append(b.Packets, flowscope.Packet{
				Time: r.unixNano(r.epoch<<32+int64(s32), frac), Length: wire, LinkType: r.link,
				Data: data[pos+16 : end : end],
			})
			fr.packets++
			fr.pos += int64(16 + caplen)
			pos = end
		}
		if r.eof {
			if pos < len(data) {
				return false, fr.recordError(fr.pos, io.ErrUnexpectedEOF)
			}
			return false, io.EOF
		}
		if len(data) == cap(data) {
			if len(b.Packets) > 0 {
				return true, nil
			}
			// One record larger than the whole buffer: grow it. No packet
			// points into the old one.
			grown := make([]byte, len(data)-start, 2*cap(data))
			copy(grown, data[start:])
			data, pos, start = grown, pos-start, 0
		}
		n, err := r.in.Read(data[len(data):min(cap(data), len(data)+r.chunk(fr, b))])
		data = data[:len(data)+n]
		switch {
		case errors.Is(err, io.EOF):
			r.eof = true
		case err != nil:
			return false, &FileError{Path: fr.path, Packet: fr.packets + 1, Offset: fr.pos, Err: err}
		}
	}
}

// chunk is how much to read next: about what the packets the batch still
// has room for will take, going by the file's records so far, between
// pcapChunk and maxPcapChunk. The kernel copies large reads for less a
// byte (a 256 KiB read costs two thirds of four 64 KiB ones here), but
// what is read past a full batch's last record is copied into the next.
func (r *pcapReader) chunk(fr *fileReader, b *Batch) int {
	if fr.packets == 0 {
		return pcapChunk
	}
	want := int64(cap(b.Packets)-len(b.Packets)) * (fr.pos / int64(fr.packets))
	return int(min(max(want, pcapChunk), maxPcapChunk))
}

// unixNano returns sec seconds and frac nanoseconds as Unix nanoseconds,
// or the latest time they hold for a later time (counted in clamped).
func (r *pcapReader) unixNano(sec, frac int64) int64 {
	if sec >= maxUnixSec {
		r.clamped++
		return math.MaxInt64
	}
	return sec*1e9 + frac
}

// maxUnixSec is the first second that int64 nanoseconds do not hold whole
// (in April 2262).
const maxUnixSec = math.MaxInt64 / int64(1e9)
