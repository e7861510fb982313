//go:build linux

package source_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flowscope-go/flowscope"
	"github.com/flowscope-go/flowscope/internal/netns"
	"github.com/flowscope-go/flowscope/sink"
	"github.com/flowscope-go/flowscope/source"
	"github.com/flowscope-go/flowscope/stage"
)

// blast sends n UDP datagrams of size bytes from namespace A to B, from
// ports spread over 64 sockets (so that a fanout group spreads them),
// as fast as it can; it returns the number sent.
func blast(t testing.TB, p *netns.Pair, n, size int) int {
	t.Helper()
	var sent int
	err := p.Do(p.A, func() error {
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
	if err != nil {
		t.Fatal(err)
	}
	return sent
}

func openLive(t testing.TB, p *netns.Pair, cfg source.LiveConfig) []*source.Live {
	t.Helper()
	var lives []*source.Live
	err := p.Do(p.B, func() error {
		var err error
		cfg.Interface = p.IfB
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
// packets, and the heap stays bounded however much arrives.
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

	var peak atomic.Uint64
	stopSampling := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		var ms runtime.MemStats
		for {
			select {
			case <-stopSampling:
				return
			case <-time.After(20 * time.Millisecond):
			}
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
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
	t.Logf("sent %d, captured %d, delivered %d, dropped by the kernel %d, peak heap %d MB",
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
	if bound := uint64(150 << 20); peak.Load() > bound {
		t.Errorf("peak heap %d MB with a slow sink, bound %d MB: memory grows with the traffic", peak.Load()>>20, bound>>20)
	}
}

// BenchmarkLiveVeth measures capture on a veth pair: b.N rounds of
// 200,000 UDP datagrams of 100 bytes sent as fast as one sender can,
// read by one socket or by a fanout group of two, each read by its own
// goroutine that only counts. It reports the packets sent and captured
// per second and the share the kernel dropped. Run it as root:
//
//	go test -run '^$' -bench LiveVeth -benchtime 3x ./source
func BenchmarkLiveVeth(b *testing.B) {
	for _, sockets := range []int{1, 2} {
		b.Run(fmt.Sprintf("sockets=%d", sockets), func(b *testing.B) {
			p := netns.New(b)
			lives := openLive(b, p, source.LiveConfig{Sockets: sockets})
			var captured atomic.Uint64
			var wg sync.WaitGroup
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
			time.Sleep(200 * time.Millisecond)
			const n = 200_000
			var sent int
			var sendTime time.Duration
			for b.Loop() {
				start := time.Now()
				sent += blast(b, p, n, 100)
				sendTime += time.Since(start)
			}
			time.Sleep(300 * time.Millisecond)
			for _, l := range lives {
				l.Stop()
			}
			wg.Wait()
			var dropped uint64
			for _, l := range lives {
				dropped += l.Stats().Dropped
			}
			b.ReportMetric(float64(sent)/sendTime.Seconds(), "sent/s")
			b.ReportMetric(float64(captured.Load())/sendTime.Seconds(), "captured/s")
			b.ReportMetric(100*float64(dropped)/float64(max(sent, 1)), "%dropped")
		})
	}
}
