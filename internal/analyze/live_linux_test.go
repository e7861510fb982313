//go:build linux

package analyze_test

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/flowscope-go/flowscope"
	"github.com/flowscope-go/flowscope/internal/analyze"
	"github.com/flowscope-go/flowscope/internal/netns"
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
