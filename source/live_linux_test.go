//go:build linux

package source_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/flowscope-go/flowscope"
	"github.com/flowscope-go/flowscope/flowkey"
	"github.com/flowscope-go/flowscope/internal/analyze"
	"github.com/flowscope-go/flowscope/internal/netns"
	"github.com/flowscope-go/flowscope/internal/pcapgen"
	"github.com/flowscope-go/flowscope/sink"
	"github.com/flowscope-go/flowscope/source"
	"github.com/flowscope-go/flowscope/source/sourcetest"
	"github.com/flowscope-go/flowscope/stage"
)

// blast sends n UDP datagrams of size bytes from namespace A to B, from
// ports spread over 64 sockets (so that a fanout group spreads them),
// as fast as it can; it returns the number sent.
func blast(t testing.TB, p *netns.Pair, n, size int) int {
	t.Helper()
	sent, err := sendUDP(p, n, size)
	if err != nil {
		t.Fatal(err)
	}
	return sent
}

func sendUDP(p *netns.Pair, n, size int) (sent int, err error) {
	err = p.Do(p.A, func() error {
		var conns []net.Conn
		for i := range 64 {
			c, err := net.Dial("udp", net.JoinHostPort(p.AddrB.String(), fmt.Sprint(20000+i)))
			if err != nil {
				return err
			}
			defer c.Close()
			conns = append(conns, c)
		}
		buf := make([]byte, size)
		for i := range n {
			if _, err := conns[i%len(conns)].Write(buf); err == nil {
				sent++
			}
		}
		return nil
	})
	return sent, err
}

func openLive(t testing.TB, p *netns.Pair, cfg source.LiveConfig) []*source.Live {
	t.Helper()
	var lives []*source.Live
	err := p.Do(p.B, func() error {
		var err error
		if cfg.Interface == "" {
			cfg.Interface = p.IfB
		}
		lives, err = source.OpenLive(cfg)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, l := range lives {
			l.Close()
		}
	})
	return lives
}

// TestLiveSlowSinkDropsAtKernel feeds a capture into a sink that takes 20
// ms a batch while about 700 MB arrive: the bounded channels stop the
// reader, the kernel ring (1 MiB) fills and the kernel drops and counts
// packets, and the live heap stays bounded however much arrives.
func TestLiveSlowSinkDropsAtKernel(t *testing.T) {
	p := netns.New(t)
	live := openLive(t, p, source.LiveConfig{RingBytes: 1 << 20})[0]

	g := stage.New(nil)
	var got atomic.Uint64
	slow := sink.Func[flowscope.Packet](func(_ context.Context, items []flowscope.Packet) error {
		got.Add(uint64(len(items)))
		time.Sleep(20 * time.Millisecond)
		return nil
	})
	stage.To(g, "slow", stage.FromSource(g, "live", live), slow)
	done := make(chan error, 1)
	go func() { done <- g.Run(context.Background()) }()

	// The live heap, sampled after a collection every 100 ms, against the
	// same before the capture: what the pipeline holds, not the garbage
	// other tests in this process left.
	liveHeap := func() uint64 {
		var ms runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	base := liveHeap()
	var peak atomic.Uint64
	stopSampling := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-stopSampling:
				return
			case <-time.After(100 * time.Millisecond):
			}
			if h := liveHeap(); h > base && h-base > peak.Load() {
				peak.Store(h - base)
			}
		}
	})
	const n, size = 500_000, 1400
	sent := blast(t, p, n, size)
	time.Sleep(300 * time.Millisecond)
	live.Stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	close(stopSampling)
	wg.Wait()

	st := live.Stats()
	t.Logf("sent %d, captured %d, delivered %d, dropped by the kernel %d, peak live heap growth %d MB",
		sent, st.Packets, got.Load(), st.Dropped, peak.Load()>>20)
	if st.Dropped == 0 {
		t.Errorf("the kernel dropped nothing: the slow sink did not hold the reader back")
	}
	if st.Packets != got.Load() {
		t.Errorf("captured %d packets but the sink got %d", st.Packets, got.Load())
	}
	// Everything sent is either captured or counted as dropped (a few
	// may be lost before the ring; the kernel counts those too).
	if total := st.Packets + st.Dropped; total < uint64(sent)*95/100 {
		t.Errorf("captured + dropped = %d of %d sent: drops are not all counted", total, sent)
	}
	if bound := uint64(100 << 20); peak.Load() > bound {
		t.Errorf("live heap grew by %d MB with a slow sink, bound %d MB: memory grows with the traffic", peak.Load()>>20, bound>>20)
	}
}

// BenchmarkLiveVeth measures capture on a veth pair: each round sends
// 1,000,000 frames of UDP datagrams (100 bytes of payload, 64 flows)
// from namespace A as fast as an AF_PACKET transmit ring goes, captured
// in B by one socket or a fanout group of two, and either only counted
// ("read") or run through the whole analysis with every parser
// ("pipeline", records to io.Discard). It reports the frames sent and
// captured per second and the share the kernel dropped. Run it as root:
//
//	go test -run '^$' -bench LiveVeth -benchtime 5x ./source
func BenchmarkLiveVeth(b *testing.B) {
	for _, mode := range []string{"read", "pipeline"} {
		for _, sockets := range []int{1, 2} {
			b.Run(fmt.Sprintf("%s/sockets=%d", mode, sockets), func(b *testing.B) {
				p := netns.New(b)
				lives := openLive(b, p, source.LiveConfig{Sockets: sockets})
				var captured atomic.Uint64
				var wg sync.WaitGroup
				if mode == "read" {
					for _, l := range lives {
						wg.Go(func() {
							var batch source.Batch
							for {
								err := l.ReadBatch(context.Background(), &batch)
								captured.Add(uint64(len(batch.Packets)))
								if errors.Is(err, io.EOF) {
									return
								}
								if err != nil {
									b.Error(err)
									return
								}
							}
						})
					}
				} else {
					srcs := make([]source.Source, len(lives))
					for i, l := range lives {
						srcs[i] = l
					}
					wg.Go(func() {
						st, err := analyze.RunLive(context.Background(), srcs, io.Discard, analyze.Options{})
						if err != nil {
							b.Error(err)
						}
						captured.Store(st.Packets)
					})
				}
				var frames [][]byte
				for i := range 64 {
					src := netip.AddrPortFrom(p.AddrA, uint16(20000+i))
					frames = append(frames, pcapgen.UDP(src, netip.AddrPortFrom(p.AddrB, 9), make([]byte, 100)))
				}
				time.Sleep(200 * time.Millisecond)
				const n = 1_000_000
				var sent int
				var sendTime time.Duration
				cpu0 := cpuTime()
				for b.Loop() {
					start := time.Now()
					k, err := p.Flood(p.A, p.IfA, frames, n)
					if err != nil {
						b.Fatal(err)
					}
					sent += k
					sendTime += time.Since(start)
				}
				time.Sleep(300 * time.Millisecond)
				var dropped uint64
				for _, l := range lives {
					dropped += l.Stats().Dropped
					l.Stop()
				}
				wg.Wait()
				// The process's CPU (sender and capture) per frame: the
				// sender's share is the same whatever reads the frames.
				b.ReportMetric(float64(cpuTime()-cpu0)/float64(max(sent, 1)), "cpu-ns/frame")
				b.ReportMetric(float64(sent)/sendTime.Seconds(), "sent/s")
				b.ReportMetric(float64(captured.Load())/sendTime.Seconds(), "captured/s")
				b.ReportMetric(100*float64(dropped)/float64(max(sent, 1)), "%dropped")
			})
		}
	}
}

// TestLiveKeepsTheContract runs the Source contract checks on a live
// socket, with traffic, stopped after a moment.
func TestLiveKeepsTheContract(t *testing.T) {
	p := netns.New(t)
	sourcetest.Run(t, func(t *testing.T) source.Source {
		l := openLive(t, p, source.LiveConfig{Tick: 50 * time.Millisecond})[0]
		sent := make(chan error, 1)
		go func() {
			_, err := sendUDP(p, 2000, 200)
			sent <- err
		}()
		// The sender may outlast the checks: the test waits for it, so
		// that its error is reported while the test is still running.
		t.Cleanup(func() {
			if err := <-sent; err != nil {
				t.Error(err)
			}
		})
		time.AfterFunc(400*time.Millisecond, l.Stop)
		return l
	}, -1)
}

// TestLiveAnyInterface captures on "any" in namespace B while A sends 200
// datagrams to B and B sends 100 to itself over loopback: every datagram
// is captured once (loopback's copies as sent are dropped, the veth's
// are not doubled), as raw IP.
func TestLiveAnyInterface(t *testing.T) {
	p := netns.New(t)
	live := openLive(t, p, source.LiveConfig{Interface: "any", Filter: "udp"})[0]
	if live.LinkType() != flowkey.LinkRaw {
		t.Fatalf("link type %d, want raw IP", live.LinkType())
	}
	counts := map[uint16]int{} // by destination port
	done := make(chan error, 1)
	go func() {
		var b source.Batch
		for {
			err := live.ReadBatch(context.Background(), &b)
			for _, pk := range b.Packets {
				if len(pk.Data) >= 24 && pk.Data[0]>>4 == 4 {
					counts[uint16(pk.Data[22])<<8|uint16(pk.Data[23])]++
				}
			}
			if err != nil {
				if errors.Is(err, io.EOF) {
					err = nil
				}
				done <- err
				return
			}
		}
	}()
	time.Sleep(200 * time.Millisecond)
	// Datagrams to ports nobody listens on draw ICMP errors that make
	// later writes on the same socket fail: count what was sent.
	sentA, err := sendUDP(p, 200, 50)
	if err != nil {
		t.Fatal(err)
	}
	err = p.Do(p.B, func() error {
		ln, err := net.ListenPacket("udp", "127.0.0.1:30000")
		if err != nil {
			return err
		}
		defer ln.Close()
		c, err := net.Dial("udp", "127.0.0.1:30000")
		if err != nil {
			return err
		}
		defer c.Close()
		for range 100 {
			if _, err := c.Write([]byte("loopback")); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	live.Stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	fromA := 0
	for port := uint16(20000); port < 20064; port++ {
		fromA += counts[port]
	}
	if fromA != sentA || counts[30000] != 100 {
		t.Errorf("captured %d of the %d datagrams from A and %d of the 100 over loopback; want each once", fromA, sentA, counts[30000])
	}
}

// TestLiveSnapLen keeps 60 bytes of each packet, with a filter and
// without: the kernel cuts them, Length keeps the size on the wire.
func TestLiveSnapLen(t *testing.T) {
	p := netns.New(t)
	for _, expr := range []string{"", "udp"} {
		live := openLive(t, p, source.LiveConfig{SnapLen: 60, Filter: expr})[0]
		go func() {
			time.Sleep(100 * time.Millisecond)
			sendUDP(p, 50, 200)
			time.Sleep(200 * time.Millisecond)
			live.Stop()
		}()
		var b source.Batch
		cut := 0
		for {
			err := live.ReadBatch(context.Background(), &b)
			for _, pk := range b.Packets {
				if len(pk.Data) > 60 {
					t.Fatalf("filter %q: %d bytes kept of a %d-byte packet, snap length 60", expr, len(pk.Data), pk.Length)
				}
				if pk.Length >= 14+20+8+200 {
					cut++
				}
			}
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		if cut == 0 {
			t.Errorf("filter %q: no packet of the datagrams' size seen", expr)
		}
	}
}

// cpuTime returns the process's user and system CPU time, in ns.
func cpuTime() int64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}
