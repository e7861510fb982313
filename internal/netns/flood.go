//go:build linux

package netns

import (
	"encoding/binary"
	"fmt"
	"net"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Flood transmits n frames on interface ifname of namespace ns, taking
// frames in turn, through an AF_PACKET transmit ring (TPACKET_V2, past
// the queueing discipline): a few system calls for thousands of frames,
// so one core sends far faster than through UDP sockets. It returns the
// number of frames the kernel took.
func (p *Pair) Flood(ns, ifname string, frames [][]byte, n int) (sent int, err error) {
	err = p.Do(ns, func() error {
		ifc, err := net.InterfaceByName(ifname)
		if err != nil {
			return err
		}
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_VERSION, unix.TPACKET_V2); err != nil {
			return fmt.Errorf("PACKET_VERSION: %w", err)
		}
		unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_QDISC_BYPASS, 1) // best effort
		const frameSize, frameNr = 2048, 4096
		req := unix.TpacketReq{Block_size: 1 << 20, Block_nr: frameSize * frameNr / (1 << 20), Frame_size: frameSize, Frame_nr: frameNr}
		if err := unix.SetsockoptTpacketReq(fd, unix.SOL_PACKET, unix.PACKET_TX_RING, &req); err != nil {
			return fmt.Errorf("PACKET_TX_RING: %w", err)
		}
		ring, err := unix.Mmap(fd, 0, frameSize*frameNr, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
		if err != nil {
			return fmt.Errorf("mmap: %w", err)
		}
		defer unix.Munmap(ring)
		sll := &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifc.Index}
		if err := unix.Bind(fd, sll); err != nil {
			return fmt.Errorf("bind: %w", err)
		}
		// The frame's data follows the aligned header, less the
		// sockaddr_ll the kernel keeps room for on receive.
		const dataOff = 32
		status := func(slot int) *uint32 { return (*uint32)(unsafe.Pointer(&ring[slot*frameSize])) }
		slot := 0
		for i := 0; i < n; {
			// Fill free slots, then hand them all over with one send.
			queued := 0
			for ; i < n && queued < frameNr; i, queued = i+1, queued+1 {
				for atomic.LoadUint32(status(slot)) != unix.TP_STATUS_AVAILABLE {
					if err := kick(fd); err != nil && err != unix.ENOBUFS && err != unix.EAGAIN {
						return err
					}
				}
				f := frames[i%len(frames)]
				hdr := (*unix.Tpacket2Hdr)(unsafe.Pointer(&ring[slot*frameSize]))
				hdr.Len = uint32(len(f))
				copy(ring[slot*frameSize+dataOff:], f)
				atomic.StoreUint32(&hdr.Status, unix.TP_STATUS_SEND_REQUEST)
				slot = (slot + 1) % frameNr
			}
			if err := kick(fd); err != nil && err != unix.ENOBUFS && err != unix.EAGAIN {
				return fmt.Errorf("send: %w", err)
			}
			sent += queued
		}
		// Wait for the last frames to leave.
		for s := range frameNr {
			for st := atomic.LoadUint32(status(s)); st == unix.TP_STATUS_SEND_REQUEST || st == unix.TP_STATUS_SENDING; st = atomic.LoadUint32(status(s)) {
				kick(fd)
			}
		}
		return nil
	})
	return sent, err
}

func htons(v uint16) uint16 {
	var b [2]byte
	binary.BigEndian.PutUint16(b[:], v)
	return *(*uint16)(unsafe.Pointer(&b))
}

// kick asks the kernel to send the frames queued in the transmit ring: a
// send of nothing. (unix.Write with an empty buffer indexes it in race
// builds.)
func kick(fd int) error {
	_, _, errno := unix.Syscall6(unix.SYS_SENDTO, uintptr(fd), 0, 0, 0, 0, 0)
	if errno != 0 {
		return errno
	}
	return nil
}
