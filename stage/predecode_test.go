package stage

import (
	"testing"

	"github.com/flowscope-go/flowscope"
	"github.com/flowscope-go/flowscope/flowkey"
	"github.com/flowscope-go/flowscope/source"
)

// A tracker reading straight from a source has the packets decoded by
// the reading stage; one behind a partition or another stage decodes
// them itself. (The records are the same either way: the worker-count
// test compares one worker, decoded ahead, with several, not.)
func TestPredecodeOnlyStraightFromSource(t *testing.T) {
	for _, tc := range []struct {
		name    string
		workers int
		between bool // a stage between the source and the tracker
		want    bool
	}{
		{"one worker", 1, false, true},
		{"two workers", 2, false, false},
		{"one worker behind a map", 1, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := New(nil)
			read := FromSource(g, "read", source.NewMemory(nil))
			in := read
			if tc.between {
				in = Map(g, "map", read, func(b *Batch[flowscope.Packet]) (*Batch[flowscope.Packet], error) { return b, nil })
			}
			Track(g, "track", flowkey.FiveTupleExtractor{}, &TrackConfig{Workers: tc.workers}, in)
			if got := read.state.fuse.(*fusion[flowscope.Packet]).predecode; got != tc.want {
				t.Errorf("source decodes for the tracker: %v, want %v", got, tc.want)
			}
		})
	}
}
