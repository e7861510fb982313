package sink

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"strconv"
	"sync"

	"github.com/flowscope-go/flowscope"
	"github.com/flowscope-go/flowscope/flowkey"
)

// Pcap writes packets to a pcap file with nanosecond timestamps, rotating
// to a new file when one reaches a size: path, then path1, path2 ... as
// tcpdump -C names them. All packets must have the link type of the
// first. It is safe for concurrent use (the sockets of a live capture
// write to one Pcap).
type Pcap struct {
	mu      sync.Mutex
	path    string
	rotate  int64
	link    flowkey.LinkType
	hasLink bool
	f       *os.File
	w       *bufio.Writer
	size    int64
	n       int // files opened
	packets uint64
}

// pcapSnapLen is the snap length written in the file header.
const pcapSnapLen = 262144

// NewPcap creates path (truncating it). rotateBytes > 0 starts a new
// file once the current one holds at least that many bytes.
func NewPcap(path string, rotateBytes int64) (*Pcap, error) {
	p := &Pcap{path: path, rotate: rotateBytes}
	if err := p.open(); err != nil {
		return nil, err
	}
	return p, nil
}

func (p *Pcap) name() string {
	if p.n == 0 {
		return p.path
	}
	return p.path + strconv.Itoa(p.n)
}

func (p *Pcap) open() error {
	f, err := os.Create(p.name())
	if err != nil {
		return err
	}
	p.f, p.w, p.size = f, bufio.NewWriterSize(f, 1<<20), 0
	if p.hasLink {
		return p.header()
	}
	return nil
}

// header writes the file header; it waits for the first packet, which
// gives the link type.
func (p *Pcap) header() error {
	var h [24]byte
	binary.LittleEndian.PutUint32(h[0:], 0xa1b23c4d) // nanosecond magic
	binary.LittleEndian.PutUint16(h[4:], 2)
	binary.LittleEndian.PutUint16(h[6:], 4)
	binary.LittleEndian.PutUint32(h[16:], pcapSnapLen)
	binary.LittleEndian.PutUint32(h[20:], uint32(p.link))
	_, err := p.w.Write(h[:])
	p.size += 24
	return err
}

// WritePacket appends one packet.
func (p *Pcap) WritePacket(pkt *flowscope.Packet) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.write(pkt)
}

func (p *Pcap) write(pkt *flowscope.Packet) error {
	if p.f == nil {
		return fmt.Errorf("pcap %s: closed", p.path)
	}
	if !p.hasLink {
		p.link, p.hasLink = pkt.LinkType, true
		if err := p.header(); err != nil {
			return p.fail(err)
		}
	} else if pkt.LinkType != p.link {
		return fmt.Errorf("pcap %s: a packet with link type %d in a file of link type %d", p.name(), pkt.LinkType, p.link)
	}
	if p.rotate > 0 && p.size >= p.rotate {
		if err := p.closeFile(); err != nil {
			return err
		}
		p.n++
		if err := p.open(); err != nil {
			return err
		}
	}
	var h [16]byte
	ns := pkt.Time
	binary.LittleEndian.PutUint32(h[0:], uint32(ns/1e9))
	binary.LittleEndian.PutUint32(h[4:], uint32(ns%1e9))
	binary.LittleEndian.PutUint32(h[8:], uint32(len(pkt.Data)))
	binary.LittleEndian.PutUint32(h[12:], uint32(max(pkt.Length, len(pkt.Data))))
	if _, err := p.w.Write(h[:]); err != nil {
		return p.fail(err)
	}
	if _, err := p.w.Write(pkt.Data); err != nil {
		return p.fail(err)
	}
	p.size += 16 + int64(len(pkt.Data))
	p.packets++
	return nil
}

func (p *Pcap) fail(err error) error { return fmt.Errorf("pcap %s: %w", p.name(), err) }

// Write implements Sink.
func (p *Pcap) Write(_ context.Context, pkts []flowscope.Packet) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := range pkts {
		if err := p.write(&pkts[i]); err != nil {
			return err
		}
	}
	return nil
}

// Flush implements Sink: buffered packets go to the file.
func (p *Pcap) Flush() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.w == nil {
		return nil
	}
	if err := p.w.Flush(); err != nil {
		return p.fail(err)
	}
	return nil
}

// Packets returns the number of packets written.
func (p *Pcap) Packets() uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.packets
}

// Files returns the names of the files written so far.
func (p *Pcap) Files() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	names := []string{p.path}
	for i := 1; i <= p.n; i++ {
		names = append(names, p.path+strconv.Itoa(i))
	}
	return names
}

func (p *Pcap) closeFile() error {
	if p.f == nil {
		return nil
	}
	if !p.hasLink {
		// No packet came: still a valid (empty) capture, as Ethernet.
		p.link, p.hasLink = flowkey.LinkEthernet, true
		if err := p.header(); err != nil {
			return p.fail(err)
		}
	}
	err := p.w.Flush()
	if cerr := p.f.Close(); err == nil {
		err = cerr
	}
	p.f, p.w = nil, nil
	if err != nil {
		return p.fail(err)
	}
	return nil
}

// Close flushes and closes the current file.
func (p *Pcap) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closeFile()
}

var _ Sink[flowscope.Packet] = (*Pcap)(nil)
