//go:build linux

package source

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// ring is an AF_PACKET socket with a TPACKET_V3 receive ring mapped into
// memory. The kernel fills blocks of packets and hands each over whole;
// packets are read where they lie, and a block goes back to the kernel
// when the reader has passed it and no batch holds its packets any more.
type ring struct {
	fd        int
	mem       []byte
	blockSize int
	// refs counts, per block, the batches that hold its packets, plus one
	// while the reader is on it.
	refs []atomic.Int32

	// The reader's place: block cur, its next packet at off, left more.
	cur     int
	inBlock bool
	off     uint32
	left    uint32

	statsMu          sync.Mutex
	kPackets, kDrops uint64
}

// ErrPollFailed reports an error condition on the socket, most often its
// interface going down or away.
var ErrPollFailed = errors.New("packet socket poll failed")

// Offsets in a block descriptor (struct tpacket_block_desc with its
// tpacket_hdr_v1).
const (
	blockStatusOff = 8
	blockNumPkts   = 12
	blockFirstPkt  = 16
)

// newRing opens a socket bound to interface ifindex (0: every interface;
// dgram: without link-layer headers) with a ring of blocks of blockSize.
func newRing(ifindex int, dgram bool, blockSize, blocks int, retire time.Duration) (*ring, error) {
	typ := unix.SOCK_RAW
	if dgram {
		typ = unix.SOCK_DGRAM
	}
	// Protocol 0: no packet arrives before the bind below names the
	// interface and asks for every protocol.
	proto := htons(unix.ETH_P_ALL)
	fd, err := unix.Socket(unix.AF_PACKET, typ|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("AF_PACKET socket: %w", err)
	}
	r := &ring{fd: fd, blockSize: blockSize}
	fail := func(what string, err error) (*ring, error) {
		r.close(0)
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_VERSION, unix.TPACKET_V3); err != nil {
		return fail("TPACKET_V3", err)
	}
	req := unix.TpacketReq3{
		Block_size: uint32(blockSize), Block_nr: uint32(blocks),
		Frame_size: liveFrameBytes, Frame_nr: uint32(blockSize / liveFrameBytes * blocks),
		Retire_blk_tov: uint32(max(retire.Milliseconds(), 1)),
	}
	if err := unix.SetsockoptTpacketReq3(fd, unix.SOL_PACKET, unix.PACKET_RX_RING, &req); err != nil {
		return fail("PACKET_RX_RING", err)
	}
	if r.mem, err = unix.Mmap(fd, 0, blockSize*blocks, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED); err != nil {
		return fail("mapping the ring", err)
	}
	r.refs = make([]atomic.Int32, blocks)
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: proto, Ifindex: ifindex}); err != nil {
		return fail("bind", err)
	}
	return r, nil
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

func (r *ring) status(block int) *uint32 {
	return (*uint32)(unsafe.Pointer(&r.mem[block*r.blockSize+blockStatusOff]))
}

// wait polls until block cur is the reader's or timeout passes; ok
// reports which. poll reports the socket readable while any block is the
// reader's, including blocks batches still hold, so it may return at
// once with block cur still the kernel's: then wait sleeps a little
// instead of spinning, until the timeout.
func (r *ring) wait(timeout time.Duration) (ok bool, err error) {
	deadline := time.Now().Add(timeout)
	for atomic.LoadUint32(r.status(r.cur))&unix.TP_STATUS_USER == 0 {
		left := time.Until(deadline)
		if left <= 0 {
			return false, nil
		}
		fds := []unix.PollFd{{Fd: int32(r.fd), Events: unix.POLLIN | unix.POLLERR}}
		n, err := unix.Poll(fds, int(max(left.Milliseconds(), 1)))
		switch {
		case errors.Is(err, unix.EINTR):
			continue
		case err != nil:
			return false, err
		case n > 0 && fds[0].Revents&unix.POLLERR != 0:
			return false, ErrPollFailed
		case n > 0 && atomic.LoadUint32(r.status(r.cur))&unix.TP_STATUS_USER == 0:
			time.Sleep(min(left, time.Millisecond))
		}
	}
	return true, nil
}

// next returns the next packet of the ring, waiting up to timeout for
// one (ok false when none came), and the block it lies in.
func (r *ring) next(timeout time.Duration) (hdr *unix.Tpacket3Hdr, data []byte, block int, ok bool, err error) {
	for {
		if !r.inBlock {
			if ok, err := r.wait(timeout); !ok || err != nil {
				return nil, nil, 0, false, err
			}
			base := r.cur * r.blockSize
			r.refs[r.cur].Store(1) // the reader's
			r.inBlock = true
			r.left = binary.NativeEndian.Uint32(r.mem[base+blockNumPkts:])
			r.off = binary.NativeEndian.Uint32(r.mem[base+blockFirstPkt:])
		}
		if r.left == 0 {
			// Passed: the reader's hold goes, and the block goes back to
			// the kernel unless a batch still holds some of it.
			r.unref(r.cur)
			r.inBlock = false
			r.cur = (r.cur + 1) % len(r.refs)
			continue
		}
		at := r.cur*r.blockSize + int(r.off)
		hdr = (*unix.Tpacket3Hdr)(unsafe.Pointer(&r.mem[at]))
		start := at + int(hdr.Mac)
		end := start + int(hdr.Snaplen)
		r.off += hdr.Next_offset
		r.left--
		return hdr, r.mem[start:end:end], r.cur, true, nil
	}
}

// unref drops one hold on block k, giving it back when it was the last.
func (r *ring) unref(k int) {
	if r.refs[k].Add(-1) == 0 {
		atomic.StoreUint32(r.status(k), unix.TP_STATUS_KERNEL)
	}
}

func (r *ring) attach(prog []bpf.RawInstruction) error {
	if len(prog) == 0 {
		return nil
	}
	fp := unix.SockFprog{Len: uint16(len(prog)), Filter: (*unix.SockFilter)(unsafe.Pointer(&prog[0]))}
	return unix.SetsockoptSockFprog(r.fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &fp)
}

func (r *ring) fanout(group uint16) error {
	arg := (unix.PACKET_FANOUT_HASH|unix.PACKET_FANOUT_FLAG_DEFRAG)<<16 | int(group)
	return unix.SetsockoptInt(r.fd, unix.SOL_PACKET, unix.PACKET_FANOUT, arg)
}

func (r *ring) promiscuous(ifindex int) error {
	mreq := unix.PacketMreq{Ifindex: int32(ifindex), Type: unix.PACKET_MR_PROMISC}
	return unix.SetsockoptPacketMreq(r.fd, unix.SOL_PACKET, unix.PACKET_ADD_MEMBERSHIP, &mreq)
}

// stats returns the kernel's counts since the socket opened (reading
// them resets the kernel's, so they are summed here).
func (r *ring) stats() (packets, drops uint64) {
	r.statsMu.Lock()
	defer r.statsMu.Unlock()
	if r.fd < 0 {
		return r.kPackets, r.kDrops
	}
	if st, err := unix.GetsockoptTpacketStatsV3(r.fd, unix.SOL_PACKET, unix.PACKET_STATISTICS); err == nil {
		r.kPackets += uint64(st.Packets)
		r.kDrops += uint64(st.Drops)
	}
	return r.kPackets, r.kDrops
}

// held reports whether batches still hold packets of the ring.
func (r *ring) held() bool {
	for k := range r.refs {
		n := r.refs[k].Load()
		if k == r.cur && r.inBlock {
			n-- // the reader's own hold
		}
		if n > 0 {
			return true
		}
	}
	return false
}

// close closes the socket, and unmaps the ring once no batch holds its
// packets (waiting up to wait for them): a ring still in use is left
// mapped rather than pulled from under its readers. The reader must have
// stopped.
func (r *ring) close(wait time.Duration) {
	r.statsMu.Lock()
	if r.fd >= 0 {
		unix.Close(r.fd)
		r.fd = -1
	}
	r.statsMu.Unlock()
	if r.mem == nil {
		return
	}
	for deadline := time.Now().Add(wait); r.held() && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	if !r.held() {
		unix.Munmap(r.mem)
	}
	r.mem = nil
}
