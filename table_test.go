package flowscope

import (
	"math/rand/v2"
	"testing"
)

// clashKey hashes to few home slots and few tags, so that probes run
// long, tags collide and deletions shift slots back across the wrap.
type clashKey uint32

func (k clashKey) Hash() uint64 { return uint64(k%13)<<60 | uint64(k%5)*0x3ff }

type mixKey uint32

func (k mixKey) Hash() uint64 { return uint64(k) * 0x9e3779b97f4a7c15 }

// TestFlowTableChurn inserts and removes keys at random and checks every
// lookup against a map, for index widths from tiny to the largest.
func TestFlowTableChurn(t *testing.T) {
	for _, maxFlows := range []int{2, 700, 1 << 20, maxTableFlows} {
		churn[clashKey](t, maxFlows)
		churn[mixKey](t, maxFlows)
	}
}

func churn[K interface {
	Key
	~uint32
}](t *testing.T, maxFlows int) {
	t.Helper()
	var tab flowTable
	var flows flowStore[K]
	tab.init(minTableSlots, maxFlows)
	want := map[K]int32{}
	var free []int32
	rng := rand.New(rand.NewPCG(1, uint64(maxFlows)))
	limit := min(maxFlows, 3000)
	for op := range 60_000 {
		k := K(rng.IntN(4000))
		idx := lookup(&tab, &flows, k, k.Hash())
		if w, ok := want[k]; ok != (idx >= 0) || (ok && w != idx) {
			t.Fatalf("maxFlows %d, op %d: lookup(%d) = %d, want %d (present %v)", maxFlows, op, k, idx, w, ok)
		}
		switch {
		case idx >= 0 && rng.IntN(2) == 0:
			remove(&tab, &flows, idx, k.Hash())
			delete(want, k)
			free = append(free, idx)
		case idx < 0 && len(want) < limit:
			if n := len(free); n > 0 {
				idx, free = free[n-1], free[:n-1]
			} else {
				idx = flows.add()
			}
			flows.at(idx).key = k
			insert(&tab, &flows, idx, k.Hash())
			want[k] = idx
		}
		if tab.count != len(want) {
			t.Fatalf("maxFlows %d, op %d: count %d, want %d", maxFlows, op, tab.count, len(want))
		}
	}
	for k, w := range want {
		if got := lookup(&tab, &flows, k, k.Hash()); got != w {
			t.Fatalf("maxFlows %d: at the end lookup(%d) = %d, want %d", maxFlows, k, got, w)
		}
	}
}
