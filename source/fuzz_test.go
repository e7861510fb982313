package source_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"testing"

	"github.com/flowscope-go/flowscope/sample"
	"github.com/flowscope-go/flowscope/source"
)

// FuzzReader reads arbitrary bytes as a capture: it must end with io.EOF
// or a *FileError naming the input, never panic, and every delivered
// packet's data must lie within the batch.
func FuzzReader(f *testing.F) {
	f.Add(sample.Capture[:400])
	f.Add(sample.Capture[:24])
	file, _ := pcapngTwoInterfaces(conn(1))
	f.Add(file)
	be := goodFile(binary.BigEndian, conn(1)[:3])
	f.Add(be.b)
	spoilt := goodFile(binary.LittleEndian, conn(1)[:4])
	binary.LittleEndian.PutUint32(spoilt.b[spoilt.epbs[1]+4:], 8) // a bad length: resynchronised
	f.Add(spoilt.b)
	f.Fuzz(func(t *testing.T, data []byte) {
		src, err := source.NewReader("fuzz.pcap", bytes.NewReader(data))
		if err != nil {
			var fe *source.FileError
			if !errors.As(err, &fe) || fe.Path != "fuzz.pcap" {
				t.Fatalf("open error %v is not a FileError naming the input", err)
			}
			return
		}
		var b source.Batch
		for range 10000 {
			err := src.ReadBatch(context.Background(), &b)
			for _, p := range b.Packets {
				if len(p.Data) > len(data) {
					t.Fatalf("packet of %d bytes from %d bytes of input", len(p.Data), len(data))
				}
			}
			if err == io.EOF {
				return
			}
			if err != nil {
				var fe *source.FileError
				if !errors.As(err, &fe) {
					t.Fatalf("read error %v is not a FileError", err)
				}
				return
			}
		}
		t.Fatal("reader did not end")
	})
}
