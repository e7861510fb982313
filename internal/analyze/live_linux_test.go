//go:build linux

package analyze_test

import (
	"bytes"
	"context"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/flowscope-go/flowscope"
	"github.com/flowscope-go/flowscope/internal/analyze"
	"github.com/flowscope-go/flowscope/internal/netns"
	"github.com/flowscope-go/flowscope/internal/pcapgen"
	"github.com/flowscope-go/flowscope/internal/syncbuf"
	"github.com/flowscope-go/flowscope/source"
	"github.com/miekg/dns"
)

// TestLiveTimersRunWithoutPackets sends one DNS query that nobody
// answers and then nothing: on the wall clock the UDP flow times out (1 s
// here) and its conn record and the unanswered query's dns record are
// written while the capture still runs.
func TestLiveTimersRunWithoutPackets(t *testing.T) {
	p := netns.New(t)
	var lives []*source.Live
	err := p.Do(p.B, func() error {
		var err error
		lives, err = source.OpenLive(source.LiveConfig{Interface: p.IfB, Filter: "udp port 53", Tick: 100 * time.Millisecond})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	defer lives[0].Close()
	var out syncbuf.Buffer
	done := make(chan error, 1)
	go func() {
		_, err := analyze.RunLive(context.Background(), []source.Source{lives[0]}, &out,
			analyze.Options{Driver: &flowscope.Config{UDPTimeout: time.Second}})
		done <- err
	}()
	time.Sleep(300 * time.Millisecond)
	err = p.Do(p.A, func() error {
		c, err := net.Dial("udp", p.AddrB.String()+":53")
		if err != nil {
			return err
		}
		defer c.Close()
		q := new(dns.Msg)
		q.SetQuestion("lonely.example.test.", dns.TypeA)
		b, _ := q.Pack()
		_, err = c.Write(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	sent := time.Now()
	for !strings.Contains(out.String(), `"_path":"conn"`) {
		if time.Since(sent) > 5*time.Second {
			t.Fatalf("no conn record 5 s after the only packet, with a 1 s UDP timeout; output: %q", out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("conn record written %v after the packet", time.Since(sent).Round(10*time.Millisecond))
	select {
	case err := <-done:
		t.Fatalf("the run ended by itself: %v", err)
	default:
	}
	got := out.String()
	if !strings.Contains(got, `"end_reason":"idle_timeout"`) || !strings.Contains(got, `"query":"lonely.example.test"`) {
		t.Errorf("want an idle-timed-out conn and the unanswered query: %s", got)
	}
	lives[0].Stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestLiveShedsUnderFlood floods the veth rig with new connections, each
// one HTTP request picked up mid-stream, as fast as a transmit ring
// sends, and runs the live analysis with every parser. Whatever the
// machine keeps up with, the counts add up: every packet captured is
// tracked or counted shed, every tracked flow has its conn record, and
// those that kept their parsers their http record. The output is made
// slow, so that the shard falls behind and sheds (the kernel drops too:
// a socket reader too slow for the ring drops there, which shedding in
// the shard does not help).
func TestLiveShedsUnderFlood(t *testing.T) {
	p := netns.New(t)
	var lives []*source.Live
	err := p.Do(p.B, func() error {
		var err error
		lives, err = source.OpenLive(source.LiveConfig{Interface: p.IfB, Tick: 50 * time.Millisecond, RingBytes: 4 << 20})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	defer lives[0].Close()
	const n = 200_000
	frames := make([][]byte, n)
	for i := range frames {
		c := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), 40000)
		frames[i] = pcapgen.TCP(c, netip.AddrPortFrom(p.AddrB, 80), 1, 1, pcapgen.ACK|pcapgen.PSH, []byte("GET / HTTP/1.1\r\nHost: h\r\n\r\n"))
	}
	// The output is slow (a broker, a disk): the shard waits on it, its
	// input queue fills, and it must shed to keep up.
	lc := lineCounter{delay: 20 * time.Millisecond}
	done := make(chan flowscope.Stats, 1)
	go func() {
		st, err := analyze.RunLive(context.Background(), []source.Source{lives[0]}, &lc, analyze.Options{})
		if err != nil {
			t.Error(err)
		}
		done <- st
	}()
	time.Sleep(200 * time.Millisecond)
	sent, err := p.Flood(p.A, p.IfA, frames, n)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	lives[0].Stop()
	st := <-done
	ls := lives[0].Stats()
	t.Logf("sent %d, captured %d, dropped by the kernel %d; %d flows (%d without parsers), %d packets of new flows shed; %d conn, %d http records",
		sent, ls.Packets, ls.Dropped, st.Flows, st.ShedParsers, st.ShedPackets, lc.conn, lc.http)
	// Frames other than the flood (IPv6 router solicitations and the
	// like) may be captured too, skipped or flows of their own.
	if st.Packets != ls.Packets || st.Flows+st.Skipped() > st.Packets {
		t.Errorf("captured %d, tracked %d: %d flows + %d skipped", ls.Packets, st.Packets, st.Flows, st.Skipped())
	}
	if lc.conn != st.Flows || lc.http > st.Flows-st.ShedParsers || lc.http+10 < st.Flows-st.ShedParsers {
		t.Errorf("%d conn and %d http records for %d flows, %d of them without parsers", lc.conn, lc.http, st.Flows, st.ShedParsers)
	}
	if st.ShedParsers == 0 {
		t.Errorf("behind a slow output, nothing was shed: %+v", st)
	}
}

// lineCounter counts the conn and http records of Zeek JSON Lines
// written to it (the run is over before they are read).
type lineCounter struct {
	tail       []byte
	conn, http uint64
	delay      time.Duration // each write takes this long
}

func (c *lineCounter) Write(b []byte) (int, error) {
	time.Sleep(c.delay)
	c.tail = append(c.tail, b...)
	for {
		i := bytes.IndexByte(c.tail, '\n')
		if i < 0 {
			break
		}
		line := c.tail[:i]
		switch {
		case bytes.HasPrefix(line, []byte(`{"_path":"conn"`)):
			c.conn++
		case bytes.HasPrefix(line, []byte(`{"_path":"http"`)):
			c.http++
		}
		c.tail = c.tail[i+1:]
	}
	c.tail = append([]byte(nil), c.tail...)
	return len(b), nil
}
