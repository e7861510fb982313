package conformance

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/flowscope-go/flowscope"
	"github.com/flowscope-go/flowscope/conversation"
	"github.com/flowscope-go/flowscope/flowkey"
	"github.com/flowscope-go/flowscope/parsers"
	"github.com/flowscope-go/flowscope/recordtest"
	"github.com/flowscope-go/flowscope/source"
)

// TestConformanceRecords runs every parser, and the conversation parser,
// on every capture of the corpus, Zeek's traces and the JA4 captures
// included, and holds every record they make to the record contract
// (recordtest): its values fit its schema, and its hand-written Zeek
// JSON is what its schema and values give, byte for byte.
func TestConformanceRecords(t *testing.T) {
	dir := corpusDir(t)
	paths := captures(t, dir)
	for _, sub := range []string{"zeek/traces", "ja4/pcaps"} {
		more, _ := filepath.Glob(filepath.Join(dir, sub, "*.pcap*"))
		paths = append(paths, more...)
	}
	kinds := map[string]int{}
	for _, path := range paths {
		src, err := source.OpenFiles(path)
		if err != nil {
			continue // the bad inputs' own test covers these
		}
		d := flowscope.NewDriver(flowkey.FiveTupleExtractor{}, &flowscope.Config{
			Parsers: append(parsers.All(), flowscope.Session(conversation.Parser{}))})
		var recs []flowscope.Record
		var b source.Batch
		for {
			err := src.ReadBatch(context.Background(), &b)
			for i := range b.Packets {
				recs = d.Track(&b.Packets[i], recs)
			}
			if err != nil {
				if !errors.Is(err, io.EOF) && !errors.Is(err, os.ErrNotExist) {
					t.Logf("%s: %v", filepath.Base(path), err)
				}
				break
			}
		}
		src.Close()
		recs = d.Flush(flowscope.EndOfInput, recs)
		for _, r := range recs {
			kinds[r.Schema().Kind]++
		}
		t.Run(filepath.Base(path), func(t *testing.T) { recordtest.Check(t, recs...) })
	}
	t.Logf("records: %d captures, %v", len(paths), kinds)
	for _, k := range []string{"conn", "http", "dns", "ssl", "conversation"} {
		if kinds[k] == 0 {
			t.Errorf("no %s record in the whole corpus: the test checks nothing of them", k)
		}
	}
}
