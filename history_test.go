package flowscope

import (
	"strings"
	"testing"
)

// TestHistoryPacking adds every letter a history holds, in several
// orders, past the bound: the letters come back in order, cut at
// maxHistory, and an unknown letter is ignored.
func TestHistoryPacking(t *testing.T) {
	all := historyLetters + historyLetters
	for _, in := range []string{"", "ShAD", "^ShADadfF", all, strings.Repeat("t", 30)} {
		var h History
		for i := range len(in) {
			h.add(in[i])
		}
		h.add('?')
		want := in[:min(len(in), maxHistory)]
		if got := h.String(); got != want {
			t.Errorf("added %q: got %q, want %q", in, got, want)
		}
		if h.Len() != len(want) {
			t.Errorf("added %q: Len %d, want %d", in, h.Len(), len(want))
		}
		if got := string(h.AppendTo([]byte("x"))); got != "x"+want {
			t.Errorf("AppendTo: %q", got)
		}
	}
}
