package flowscope

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestSegList holds segList against a sorted slice under random
// insertions (in reverse, forward and random order), searches and
// removals from the front.
func TestSegList(t *testing.T) {
	for _, order := range []string{"forward", "reverse", "random"} {
		rng := rand.New(rand.NewPCG(1, uint64(len(order))))
		var l segList
		var model []uint64 // starts of 2-byte segments at even numbers
		seqs := rng.Perm(2000)
		switch order {
		case "forward":
			slices.Sort(seqs)
		case "reverse":
			slices.Sort(seqs)
			slices.Reverse(seqs)
		}
		data := make([]byte, 2)
		for k, s := range seqs {
			seq := uint64(s) * 4
			l.insert(segment{seq: seq, data: data})
			i, _ := slices.BinarySearch(model, seq)
			model = slices.Insert(model, i, seq)
			if k%7 == 0 {
				if got, want := l.popFront().seq, model[0]; got != want {
					t.Fatalf("%s: popFront %d, want %d", order, got, want)
				}
				model = model[1:]
			}
			if l.len() != len(model) {
				t.Fatalf("%s: len %d, want %d", order, l.len(), len(model))
			}
			abs := uint64(rng.IntN(8000))
			want, _ := slices.BinarySearchFunc(model, abs, func(m, abs uint64) int {
				if m+2 <= abs {
					return -1
				}
				return 1
			})
			// Walk from the search's place; it must list model[want:].
			j := l.endPast(abs)
			for w := want; w < len(model) && w < want+3; w++ {
				if !l.valid(j) || l.at(j).seq != model[w] {
					t.Fatalf("%s: after endPast(%d), segment %d is not %d", order, abs, w-want, model[w])
				}
				j = l.next(j)
			}
			if want == len(model) && l.valid(j) {
				t.Fatalf("%s: endPast(%d) found %d past every segment", order, abs, l.at(j).seq)
			}
		}
		for _, blk := range l.blocks {
			if len(blk) == 0 || len(blk) > segBlock {
				t.Fatalf("%s: a block of %d segments", order, len(blk))
			}
		}
		var freed int
		l.reset(func([]byte) { freed++ })
		if freed != len(model) || l.len() != 0 {
			t.Fatalf("%s: reset freed %d of %d", order, freed, len(model))
		}
	}
}
