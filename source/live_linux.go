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
	"sync/atomic"
	"time"

	"github.com/flowscope-go/flowscope"
	"github.com/flowscope-go/flowscope/filter"
	"github.com/flowscope-go/flowscope/flowkey"
	"github.com/gopacket/gopacket/afpacket"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// Live is one AF_PACKET capture socket (TPACKET_V3 ring), a Source. Its
// batches hold copies of the ring's packets: a ring block goes back to
// the kernel as soon as it is read, so a slow pipeline makes the kernel
// drop (and count) packets rather than grow memory.
//
// ReadBatch returns a batch when it is full, when MaxDelay passed since
// its first packet, or when no packet came for a while; with no packets
// at all it returns an empty batch with Now set every Tick. After Stop,
// or when ctx is done, it returns what it holds and then io.EOF (Stop) or
// ctx.Err().
type Live struct {
	cfg  LiveConfig
	name string
	tp   *afpacket.TPacket
	link flowkey.LinkType
	// user runs the filter in user space: for expressions with vlan (the
	// kernel has taken tags out of the packets a socket filter sees), and
	// for packets captured before the kernel filter was attached.
	user       *filter.Filter
	userAlways bool
	attachedAt time.Time

	stopped  atomic.Bool
	packets  atomic.Uint64
	bytes    atomic.Uint64
	rejected atomic.Uint64
	lastNow  time.Time

	// pending is a packet read that did not fit in the last batch.
	pending    flowscope.Packet
	pendingBuf []byte
	hasPending bool
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
	opts := []any{
		afpacket.OptTPacketVersion(afpacket.TPacketVersion3),
		afpacket.OptFrameSize(liveFrameBytes),
		afpacket.OptBlockSize(liveBlockBytes),
		afpacket.OptNumBlocks(blocks),
		afpacket.OptBlockTimeout(c.BlockTimeout),
		afpacket.OptPollTimeout(c.BlockTimeout),
	}
	if allIfs {
		opts = append(opts, afpacket.OptSocketType(afpacket.SocketDgram))
	} else {
		// Tags the kernel took off go back in, for the records and for
		// vlan filters run here.
		opts = append(opts, afpacket.OptInterface(c.Interface), afpacket.OptAddVLANHeader(true))
	}
	for range c.Sockets {
		tp, err := afpacket.NewTPacket(opts...)
		if err != nil {
			return fail(err)
		}
		l := &Live{cfg: c, name: c.Interface, tp: tp, link: link}
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
			if err := tp.SetBPF(prog); err != nil {
				return fail(fmt.Errorf("attaching the filter: %w", err))
			}
			l.attachedAt = time.Now()
		}
		if c.Promiscuous {
			if err := tp.SetPromiscuous(true); err != nil {
				return fail(fmt.Errorf("promiscuous mode: %w", err))
			}
		}
		if c.Sockets > 1 {
			if err := tp.SetFanout(afpacket.FanoutHash|afpacket.FanoutHashWithDefrag, group); err != nil {
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
		prog, _ = bpf.Assemble([]bpf.Instruction{bpf.RetConstant{Val: filter.SnapLen}})
	}
	return append(raw, prog...)
}

// withSnapLen makes prog (nil: accept all) keep at most n bytes of the
// packets it accepts: every return of a non-zero constant returns n.
func withSnapLen(prog []bpf.RawInstruction, n uint32) []bpf.RawInstruction {
	if prog == nil {
		prog, _ = bpf.Assemble([]bpf.Instruction{bpf.RetConstant{Val: filter.SnapLen}})
	}
	out := slices.Clone(prog)
	for i := range out {
		if out[i].Op == bpfRetK && out[i].K != 0 {
			out[i].K = min(out[i].K, n)
		}
	}
	return out
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
	if l.hasPending {
		l.hasPending = false
		b.put(l.pending, l.pending.Data)
	}
	// The batch's age is read from packet times, which cost no call.
	var first time.Time
	if len(b.Packets) > 0 {
		first = b.Packets[0].Timestamp
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
		data, ci, err := l.tp.ZeroCopyReadPacketData()
		switch {
		case errors.Is(err, afpacket.ErrTimeout):
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
		case err != nil:
			return fmt.Errorf("live capture on %s: %w", l.name, l.why(err))
		}
		if l.user != nil && (l.userAlways || !ci.Timestamp.After(l.attachedAt)) && !l.user.Match(data) {
			l.rejected.Add(1)
			continue
		}
		p := flowscope.Packet{Data: data, Timestamp: ci.Timestamp, Length: ci.Length, LinkType: l.link, Interface: ci.InterfaceIndex}
		l.packets.Add(1)
		l.bytes.Add(uint64(len(data)))
		if !b.put(p, data) {
			l.pendingBuf = append(l.pendingBuf[:0], data...)
			p.Data = l.pendingBuf
			l.pending, l.hasPending = p, true
			return nil
		}
		if len(b.Packets) == 1 {
			first = ci.Timestamp
		} else if ci.Timestamp.Sub(first) >= l.cfg.MaxDelay {
			return nil
		}
		if len(b.Packets) == cap(b.Packets) {
			return nil
		}
	}
}

// why explains a read error: a failed poll is most often the interface
// going down or away.
func (l *Live) why(err error) error {
	if !errors.Is(err, afpacket.ErrPoll) || l.name == "any" {
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
	st := Stats{Packets: l.packets.Load(), Bytes: l.bytes.Load(), Filtered: l.rejected.Load()}
	if _, v3, err := l.tp.SocketStats(); err == nil {
		st.Dropped = uint64(v3.Drops())
	}
	return st
}

// Close implements Source.
func (l *Live) Close() error {
	l.tp.Close()
	return nil
}

var _ Source = (*Live)(nil)
