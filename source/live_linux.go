//go:build linux

package source

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/flowscope-go/flowscope"
	"github.com/flowscope-go/flowscope/filter"
	"github.com/flowscope-go/flowscope/flowkey"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// Live is one AF_PACKET capture socket with a TPACKET_V3 ring, a Source.
// Its packets are read where the kernel put them: a batch's packets point
// into the ring, and the ring blocks they lie in go back to the kernel
// when the batch is released (Batch.Release; stage.FromSource does it
// when the batch's last stage is done). A slow pipeline therefore holds
// blocks, the ring fills, and the kernel drops (and counts) packets
// rather than memory growing. Packets whose VLAN tag the kernel took off
// are copied, with the tag put back.
//
// ReadBatch returns a batch when it is full, when MaxDelay passed since
// its first packet, or when no packet came for a while; with no packets
// at all it returns an empty batch with Now set every Tick. After Stop,
// or when ctx is done, it returns what it holds and then io.EOF (Stop) or
// ctx.Err(). Close after the batches are released: it unmaps the ring
// (see Close).
type Live struct {
	cfg     LiveConfig
	name    string
	r       *ring
	link    flowkey.LinkType
	dgram   bool
	ifindex int
	// user runs the filter in user space: for expressions with vlan (the
	// kernel has taken tags out of the packets a socket filter sees), and
	// for packets captured before the kernel filter was attached.
	user       *filter.Filter
	userAlways bool
	attachedAt int64 // Unix ns

	stopped atomic.Bool
	// readMu is held by ReadBatch, so that Close waits for it; closed is
	// set by Close.
	readMu   sync.Mutex
	closed   bool
	packets  atomic.Uint64
	bytes    atomic.Uint64
	rejected atomic.Uint64
	lastNow  time.Time

	// pending is a copied packet (VLAN tag put back) that did not fit in
	// the last batch's buffer.
	pending    flowscope.Packet
	pendingBuf []byte
	hasPending bool
	scratch    []byte
}

// OpenLive opens cfg.Sockets capture sockets on cfg.Interface, joined in
// one fanout group when there are several. It needs CAP_NET_RAW.
func OpenLive(cfg LiveConfig) ([]*Live, error) {
	c := cfg.withDefaults()
	if c.Interface == "" {
		return nil, errors.New("live capture: no interface given")
	}
	// "any" captures on every interface, as tcpdump's does: packets come
	// without their link-layer headers (a SOCK_DGRAM socket), as raw IP.
	allIfs := c.Interface == "any"
	var link flowkey.LinkType
	var loopback bool
	var loIndex int
	var err error
	if allIfs {
		link = flowkey.LinkRaw
		if lo, lerr := net.InterfaceByName("lo"); lerr == nil {
			loIndex = lo.Index
		}
	} else if link, loopback, err = interfaceLink(c.Interface); err != nil {
		return nil, err
	}
	var flt *filter.Filter
	if c.Filter != "" {
		if flt, err = filter.Compile(c.Filter, link); err != nil {
			return nil, err
		}
	}
	var out []*Live
	fail := func(err error) ([]*Live, error) {
		for _, l := range out {
			l.Close()
		}
		return nil, fmt.Errorf("live capture on %s: %w", c.Interface, err)
	}
	group := uint16(os.Getpid())
	blocks := max(c.RingBytes/liveBlockBytes, 1)
	ifindex := 0
	if !allIfs {
		ifc, err := net.InterfaceByName(c.Interface)
		if err != nil {
			return nil, fmt.Errorf("live capture: interface %q: %w", c.Interface, err)
		}
		ifindex = ifc.Index
	}
	for range c.Sockets {
		r, err := newRing(ifindex, allIfs, liveBlockBytes, blocks, c.BlockTimeout)
		if err != nil {
			return fail(err)
		}
		l := &Live{cfg: c, name: c.Interface, r: r, link: link, dgram: allIfs, ifindex: ifindex}
		out = append(out, l)
		// The program for the kernel: the filter (unless it has vlan and
		// runs here), and on a loopback interface, which shows every
		// packet twice (as sent and as received), a test that keeps only
		// the received copy, as libpcap does.
		var prog []bpf.RawInstruction
		if flt != nil {
			l.user = flt
			if flt.UsesVLAN() {
				l.userAlways = true
			} else {
				prog = flt.Program()
			}
		}
		switch {
		case loopback:
			prog = dropOutgoing(prog, -1)
		case allIfs && loIndex > 0:
			prog = dropOutgoing(prog, loIndex)
		}
		if c.SnapLen > 0 {
			prog = withSnapLen(prog, uint32(c.SnapLen))
		}
		if prog != nil {
			if err := r.attach(prog); err != nil {
				return fail(fmt.Errorf("attaching the filter: %w", err))
			}
			l.attachedAt = time.Now().UnixNano()
		}
		if c.Promiscuous && ifindex > 0 {
			if err := r.promiscuous(ifindex); err != nil {
				return fail(fmt.Errorf("promiscuous mode: %w", err))
			}
		}
		if c.Sockets > 1 {
			if err := r.fanout(group); err != nil {
				return fail(fmt.Errorf("joining fanout group %d: %w", group, err))
			}
		}
	}
	return out, nil
}

// interfaceLink returns the link type of an interface's packets on an
// AF_PACKET socket, from its hardware type, and whether it is a loopback
// interface.
func interfaceLink(name string) (flowkey.LinkType, bool, error) {
	// SIOCGIFHWADDR on a socket of the caller's network namespace (sysfs
	// would show the namespace it was mounted in).
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return 0, false, fmt.Errorf("live capture: interface %q: %w", name, err)
	}
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return 0, false, fmt.Errorf("live capture: %w", err)
	}
	defer unix.Close(fd)
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFHWADDR, ifr); err != nil {
		if errors.Is(err, unix.ENODEV) {
			return 0, false, fmt.Errorf("live capture: no interface %q", name)
		}
		return 0, false, fmt.Errorf("live capture: interface %q: %w", name, err)
	}
	// The union starts with the hardware address's sa_family: the
	// interface's ARPHRD type.
	switch t := ifr.Uint16(); t {
	case unix.ARPHRD_ETHER:
		return flowkey.LinkEthernet, false, nil
	case unix.ARPHRD_LOOPBACK: // an Ethernet header of zeros
		return flowkey.LinkEthernet, true, nil
	case unix.ARPHRD_NONE: // tun devices, raw IP
		return flowkey.LinkRaw, false, nil
	default:
		return 0, false, fmt.Errorf("live capture: interface %q has hardware type %d, which flowscope does not decode", name, t)
	}
}

// dropOutgoing puts before prog (nil: accept all) a test that rejects
// the packets the host sends (packet type PACKET_OUTGOING): all of them
// when ifindex is -1 (a socket on the loopback interface), else those on
// interface ifindex (the loopback interface, for a socket on every
// interface: other interfaces' outgoing packets are traffic too).
func dropOutgoing(prog []bpf.RawInstruction, ifindex int) []bpf.RawInstruction {
	var head []bpf.Instruction
	if ifindex >= 0 {
		head = append(head,
			bpf.LoadExtension{Num: bpf.ExtInterfaceIndex},
			bpf.JumpIf{Cond: bpf.JumpEqual, Val: uint32(ifindex), SkipTrue: 0, SkipFalse: 3})
	}
	head = append(head,
		bpf.LoadExtension{Num: bpf.ExtType},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: unix.PACKET_OUTGOING, SkipTrue: 0, SkipFalse: 1},
		bpf.RetConstant{Val: 0})
	raw, err := bpf.Assemble(head)
	if err != nil {
		panic(err) // a fixed program
	}
	if prog == nil {
		prog = acceptAll()
	}
	return append(raw, prog...)
}

// withSnapLen makes prog (nil: accept all) keep at most n bytes of the
// packets it accepts: every return of a non-zero constant returns n.
func withSnapLen(prog []bpf.RawInstruction, n uint32) []bpf.RawInstruction {
	if prog == nil {
		prog = acceptAll()
	}
	out := slices.Clone(prog)
	for i := range out {
		if out[i].Op == bpfRetK && out[i].K != 0 {
			out[i].K = min(out[i].K, n)
		}
	}
	return out
}

// acceptAll is the program that keeps every packet whole.
func acceptAll() []bpf.RawInstruction {
	return []bpf.RawInstruction{{Op: bpfRetK, K: filter.SnapLen}}
}

// bpfRetK is the opcode of "ret #k".
const bpfRetK = 0x06

// LinkType returns the link type of the packets.
func (l *Live) LinkType() flowkey.LinkType { return l.link }

// Stop makes ReadBatch return io.EOF once it has handed over what it
// holds, within about BlockTimeout. It may be called from any goroutine.
func (l *Live) Stop() { l.stopped.Store(true) }

// ReadBatch implements Source.
func (l *Live) ReadBatch(ctx context.Context, b *Batch) error {
	b.Reset()
	l.readMu.Lock()
	defer l.readMu.Unlock()
	if l.closed {
		return fmt.Errorf("live capture on %s: closed", l.name)
	}
	if cap(b.Packets) == 0 {
		b.Packets = make([]flowscope.Packet, 0, DefaultBatchPackets)
	}
	// held lists the ring blocks this batch's packets lie in; the batch's
	// Release gives them back.
	var held []int
	defer func() {
		if len(held) > 0 {
			r := l.r
			b.Release = func() {
				for _, k := range held {
					r.unref(k)
				}
			}
		}
	}()
	if l.hasPending {
		l.hasPending = false
		b.put(l.pending, l.pending.Data)
	}
	// The batch's age is read from packet times, which cost no call.
	var first int64
	if len(b.Packets) > 0 {
		first = b.Packets[0].Time
	}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		if l.stopped.Load() {
			if len(b.Packets) > 0 {
				return nil
			}
			return io.EOF
		}
		hdr, data, block, ok, err := l.r.next(l.cfg.BlockTimeout)
		if err != nil {
			return fmt.Errorf("live capture on %s: %w", l.name, l.why(err))
		}
		if !ok {
			now := time.Now()
			if len(b.Packets) > 0 {
				return nil
			}
			if now.Sub(l.lastNow) >= l.cfg.Tick {
				l.lastNow = now
				b.Now = now.Add(-liveLag).UnixNano()
				return nil
			}
			continue
		}
		ts := int64(hdr.Sec)*1e9 + int64(hdr.Nsec)
		length := int(hdr.Len)
		copied := false
		if !l.dgram && hdr.Status&unix.TP_STATUS_VLAN_VALID != 0 && len(data) >= 12 {
			// The tag the kernel took off goes back in, in a copy.
			tpid := uint16(0x8100)
			if hdr.Status&unix.TP_STATUS_VLAN_TPID_VALID != 0 {
				tpid = hdr.Hv1.Vlan_tpid
			}
			tci := uint16(hdr.Hv1.Vlan_tci)
			l.scratch = append(append(l.scratch[:0], data[:12]...), byte(tpid>>8), byte(tpid), byte(tci>>8), byte(tci))
			l.scratch = append(l.scratch, data[12:]...)
			data, length, copied = l.scratch, length+4, true
		}
		if l.user != nil && (l.userAlways || ts <= l.attachedAt) && !l.user.Match(data) {
			l.rejected.Add(1)
			continue
		}
		p := flowscope.Packet{Data: data, Time: ts, Length: length, LinkType: l.link, Interface: l.ifindexOf(hdr)}
		l.packets.Add(1)
		l.bytes.Add(uint64(len(data)))
		if copied {
			if !b.put(p, data) {
				l.pendingBuf = append(l.pendingBuf[:0], data...)
				p.Data = l.pendingBuf
				l.pending, l.hasPending = p, true
				return nil
			}
		} else {
			if len(held) == 0 || held[len(held)-1] != block {
				l.r.refs[block].Add(1)
				held = append(held, block)
			}
			b.Packets = append(b.Packets, p)
		}
		if len(b.Packets) == 1 {
			first = ts
		} else if time.Duration(ts-first) >= l.cfg.MaxDelay {
			return nil
		}
		if len(b.Packets) == cap(b.Packets) {
			return nil
		}
	}
}

// ifindexOf reads the interface index from the sockaddr_ll the kernel
// puts after a packet's header.
func (l *Live) ifindexOf(hdr *unix.Tpacket3Hdr) int {
	if !l.dgram {
		return l.ifindex
	}
	sll := (*unix.RawSockaddrLinklayer)(unsafe.Add(unsafe.Pointer(hdr), tpacket3HdrLen))
	return int(sll.Ifindex)
}

// tpacket3HdrLen is TPACKET_ALIGN(sizeof(struct tpacket3_hdr)).
const tpacket3HdrLen = (unsafe.Sizeof(unix.Tpacket3Hdr{}) + unix.TPACKET_ALIGNMENT - 1) &^ (unix.TPACKET_ALIGNMENT - 1)

// why explains a read error: a failed poll is most often the interface
// going down or away.
func (l *Live) why(err error) error {
	if !errors.Is(err, ErrPollFailed) || l.name == "any" {
		return err
	}
	ifr, ierr := unix.NewIfreq(l.name)
	if ierr != nil {
		return err
	}
	fd, ierr := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if ierr != nil {
		return err
	}
	defer unix.Close(fd)
	switch ierr := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); {
	case errors.Is(ierr, unix.ENODEV):
		return fmt.Errorf("the interface is gone (%w)", err)
	case ierr == nil && ifr.Uint16()&unix.IFF_UP == 0:
		return fmt.Errorf("the interface went down (%w)", err)
	}
	return err
}

// Stats implements Source. Dropped is the kernel's count of packets the
// ring had no room for; Filtered counts only packets the user-space
// filter rejected.
func (l *Live) Stats() Stats {
	_, drops := l.r.stats()
	return Stats{Packets: l.packets.Load(), Bytes: l.bytes.Load(), Filtered: l.rejected.Load(), Dropped: drops}
}

// Close implements Source: it stops the source, waits for a ReadBatch in
// progress to return, closes the socket and unmaps the ring once every
// batch is released (waiting a second for them; a ring still held after
// that stays mapped).
func (l *Live) Close() error {
	l.Stop()
	l.readMu.Lock()
	defer l.readMu.Unlock()
	if !l.closed {
		l.closed = true
		l.r.close(time.Second)
	}
	return nil
}

var _ Source = (*Live)(nil)
