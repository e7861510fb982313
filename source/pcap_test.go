package source_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"math/rand/v2"
	"strconv"
	"testing"
	"testing/iotest"
	"time"

	"github.com/flowscope-go/flowscope/source"
)

type record struct {
	ts   time.Time
	wire int
	data []byte
}

// pcapFile writes records as a classic pcap file in the given byte order
// and timestamp resolution.
func pcapFile(order binary.ByteOrder, nano bool, snaplen uint32, recs []record) []byte {
	var b bytes.Buffer
	h := make([]byte, 24)
	magic := uint32(0xa1b2c3d4)
	if nano {
		magic = 0xa1b23c4d
	}
	order.PutUint32(h[0:], magic)
	order.PutUint16(h[4:], 2)
	order.PutUint16(h[6:], 4)
	order.PutUint32(h[16:], snaplen)
	order.PutUint32(h[20:], 1)
	b.Write(h)
	for _, r := range recs {
		rh := make([]byte, 16)
		frac := r.ts.Nanosecond() / 1000
		if nano {
			frac = r.ts.Nanosecond()
		}
		order.PutUint32(rh[0:], uint32(r.ts.Unix()))
		order.PutUint32(rh[4:], uint32(frac))
		order.PutUint32(rh[8:], uint32(len(r.data)))
		order.PutUint32(rh[12:], uint32(r.wire))
		b.Write(rh)
		b.Write(r.data)
	}
	return b.Bytes()
}

// TestPcapRecordsAcrossBatches reads records of every size, in both byte
// orders and resolutions, through a reader that returns short reads, and
// gets every record back whole and in order: records cut by a batch's
// end or by a read carry over to the next batch, and one of the largest
// size accepted (MaxCaptureLength, under a 4 MiB snap length) is read
// whole.
func TestPcapRecordsAcrossBatches(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	var recs []record
	t0 := time.Date(2026, 11, 27, 12, 0, 0, 123456789, time.UTC)
	for i := range 5000 {
		n := rng.IntN(9000)
		if i == 2500 {
			n = source.MaxCaptureLength
		}
		d := make([]byte, n)
		for j := range d {
			d[j] = byte(rng.Uint32())
		}
		recs = append(recs, record{ts: t0.Add(time.Duration(i) * 1001 * time.Microsecond), wire: n + rng.IntN(3), data: d})
	}
	for _, c := range []struct {
		name  string
		order binary.ByteOrder
		nano  bool
	}{{"little-endian µs", binary.LittleEndian, false}, {"big-endian ns", binary.BigEndian, true}} {
		t.Run(c.name, func(t *testing.T) {
			file := pcapFile(c.order, c.nano, 4<<20, recs)
			src, err := source.NewReader("records.pcap", iotest.HalfReader(bytes.NewReader(file)))
			if err != nil {
				t.Fatal(err)
			}
			var b source.Batch
			i, batches := 0, 0
			for {
				err := src.ReadBatch(context.Background(), &b)
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatalf("after %d records: %v", i, err)
				}
				batches++
				for _, p := range b.Packets {
					want := recs[i]
					ts := want.ts
					if !c.nano {
						ts = ts.Truncate(time.Microsecond)
					}
					if !bytes.Equal(p.Data, want.data) || p.Length != want.wire || p.Time != ts.UnixNano() {
						t.Fatalf("record %d: %d bytes (wire %d) at %v, want %d (wire %d) at %v", i, len(p.Data), p.Length, p.Time, len(want.data), want.wire, ts)
					}
					i++
				}
			}
			if i != len(recs) || batches < len(recs)/source.DefaultBatchPackets {
				t.Fatalf("%d records in %d batches, want %d", i, batches, len(recs))
			}
		})
	}
	// A file that ends inside a record: every whole record before it,
	// then an error naming the record and its offset.
	file := pcapFile(binary.LittleEndian, false, 65535, recs[:3])
	src, err := source.NewReader("cut.pcap", bytes.NewReader(file[:len(file)-5]))
	if err != nil {
		t.Fatal(err)
	}
	var b source.Batch
	err = src.ReadBatch(context.Background(), &b)
	off := 24 + 16 + len(recs[0].data) + 16 + len(recs[1].data)
	if len(b.Packets) != 2 || err == nil || err.Error() != "cut.pcap: packet 3 at offset "+strconv.Itoa(off)+": capture record cut short: file ends inside the record" {
		t.Fatalf("%d packets, error %v", len(b.Packets), err)
	}
}
