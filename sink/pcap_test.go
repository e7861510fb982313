package sink_test

import (
	"context"
	"errors"
	"io"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flowscope-go/flowscope"
	"github.com/flowscope-go/flowscope/flowkey"
	"github.com/flowscope-go/flowscope/internal/pcapgen"
	"github.com/flowscope-go/flowscope/sink"
	"github.com/flowscope-go/flowscope/source"
)

// TestPcapRotatesAndReadsBack writes 300 packets with nanosecond times
// into files of about 10 KB and reads them all back, in order, with
// their times, lengths and bytes.
func TestPcapRotatesAndReadsBack(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cap.pcap")
	w, err := sink.NewPcap(path, 10_000)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Unix(1_800_000_000, 123_456_789)
	var sent []flowscope.Packet
	for i := range 300 {
		data := pcapgen.UDP(netip.MustParseAddrPort("10.0.0.1:1000"), netip.MustParseAddrPort("10.0.0.2:53"), make([]byte, i%90))
		p := flowscope.Packet{Data: data, Time: t0.Add(time.Duration(i) * 1001).UnixNano(), Length: len(data) + i%3, LinkType: flowkey.LinkEthernet}
		sent = append(sent, p)
	}
	if err := w.Write(context.Background(), sent[:100]); err != nil {
		t.Fatal(err)
	}
	for i := 100; i < len(sent); i++ {
		if err := w.WritePacket(&sent[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	files := w.Files()
	if len(files) < 3 || files[1] != path+"1" {
		t.Fatalf("files %v: want rotation into cap.pcap, cap.pcap1 ...", files)
	}
	src, err := source.OpenFiles(files...)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	var got []flowscope.Packet
	var b source.Batch
	for {
		err := src.ReadBatch(context.Background(), &b)
		for _, p := range b.Packets {
			p.Data = append([]byte(nil), p.Data...)
			got = append(got, p)
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(got) != len(sent) {
		t.Fatalf("read back %d packets, want %d", len(got), len(sent))
	}
	for i := range sent {
		g, s := got[i], sent[i]
		if g.Time != s.Time || g.Length != s.Length || string(g.Data) != string(s.Data) || g.LinkType != s.LinkType {
			t.Fatalf("packet %d: got %v len %d, want %v len %d", i, g.Time, g.Length, s.Time, s.Length)
		}
	}
	if w.Packets() != 300 {
		t.Errorf("Packets() = %d", w.Packets())
	}
}

func TestPcapRefusesMixedLinks(t *testing.T) {
	w, err := sink.NewPcap(filepath.Join(t.TempDir(), "x.pcap"), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	eth := flowscope.Packet{Data: make([]byte, 60), Time: 1e9, Length: 60, LinkType: flowkey.LinkEthernet}
	raw := eth
	raw.LinkType = flowkey.LinkRaw
	if err := w.WritePacket(&eth); err != nil {
		t.Fatal(err)
	}
	if err := w.WritePacket(&raw); err == nil || !strings.Contains(err.Error(), "link type 101 in a file of link type 1") {
		t.Errorf("mixed links: %v", err)
	}
}
