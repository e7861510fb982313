package flowscope

import "math/bits"

// flowTable maps flow keys to entry indices. It is an open-addressing
// hash table with linear probing over the keys' own Hash, in place of a
// Go map: a slot holds the entry index and a tag of the hash's top bits,
// so a lookup reads one slot and then the entry it needs anyway, where a
// map[K]int32 reads its own copy of the key first. On the 1.1M-packet,
// 12.5k-flow benchmark this was the largest single cost of tracking (see
// bench/README.md).
//
// A slot is 32 bits: the low idxBits hold index+1 (enough for MaxFlows),
// the rest a tag; with the default million flows the tag has 12 bits, so
// one probe in 4,096 reads an entry that is not the one sought. Half
// full at most, the table costs under 17 bytes per flow.
//
// Deletion shifts later slots back (no tombstones), so lookups stay short
// however many flows come and go.
type flowTable struct {
	slots   []uint32 // tag << idxBits | index+1; 0 is empty
	mask    uint64
	count   int
	idxBits uint8
	idxMask uint32
}

const (
	minTableSlots = 1024
	// maxTableFlows bounds MaxFlows, so that a tag keeps 6 bits.
	maxTableFlows = 1<<26 - 1
)

// init sizes the table for slots and for indices below maxFlows.
func (t *flowTable) init(slots, maxFlows int) {
	n := minTableSlots
	for n < slots {
		n <<= 1
	}
	t.slots = make([]uint32, n)
	t.mask = uint64(n - 1)
	t.count = 0
	t.idxBits = uint8(bits.Len32(uint32(maxFlows)))
	t.idxMask = 1<<t.idxBits - 1
}

// tag is the part of hash h a slot keeps: its top bits, which the
// slot's position (the low bits) does not already say.
func (t *flowTable) tag(h uint64) uint32 { return uint32(h>>(32+t.idxBits)) << t.idxBits }

// lookup returns the index of the entry with key k (hash h), or -1.
func lookup[K Key](t *flowTable, flows *flowStore[K], k K, h uint64) int32 {
	tag := t.tag(h)
	for i := h & t.mask; ; i = (i + 1) & t.mask {
		s := t.slots[i]
		if s == 0 {
			return -1
		}
		if s&^t.idxMask == tag {
			idx := int32(s&t.idxMask) - 1
			if flows.at(idx).key == k {
				return idx
			}
		}
	}
}

// insert adds entry idx with hash h; the key must not be present. The
// table doubles when it would be more than half full, hashing the keys
// again (an entry keeps no hash).
func insert[K Key](t *flowTable, flows *flowStore[K], idx int32, h uint64) {
	if 2*(t.count+1) > len(t.slots) {
		old := t.slots
		t.init(2*len(old), int(t.idxMask))
		for _, s := range old {
			if s != 0 {
				j := int32(s&t.idxMask) - 1
				t.place(flows.at(j).key.Hash(), j)
			}
		}
	}
	t.place(h, idx)
}

func (t *flowTable) place(h uint64, idx int32) {
	i := h & t.mask
	for t.slots[i] != 0 {
		i = (i + 1) & t.mask
	}
	t.slots[i] = t.tag(h) | uint32(idx+1)
	t.count++
}

// remove deletes entry idx (hash h), shifting back the slots after it
// that would otherwise become unreachable.
func remove[K Key](t *flowTable, flows *flowStore[K], idx int32, h uint64) {
	want := uint32(idx + 1)
	i := h & t.mask
	for t.slots[i]&t.idxMask != want {
		i = (i + 1) & t.mask
	}
	t.count--
	for {
		t.slots[i] = 0
		j := i
		for {
			j = (j + 1) & t.mask
			s := t.slots[j]
			if s == 0 {
				return
			}
			// The slot's home: its position, from the entry's key (the
			// tag keeps only the hash's top bits).
			home := flows.at(int32(s&t.idxMask)-1).key.Hash() & t.mask
			// The slot at j may move to i if its home is not in (i, j].
			if (j > i && (home <= i || home > j)) || (j < i && home <= i && home > j) {
				t.slots[i] = s
				i = j
				break
			}
		}
	}
}

// paged holds values in pages of a fixed size, so that a store grows
// without copying what it holds and without the spare capacity of a
// doubling slice; a value's index never changes. Freed indices are reused.
type paged[T any] struct {
	pages []*[pageSize]T
	n     int32 // indices handed out
	free  []int32
}

// flowStore holds the flow entries.
type flowStore[K Key] = paged[entry[K]]

const (
	pageBits = 10
	pageSize = 1 << pageBits
)

func (s *paged[T]) at(i int32) *T { return &s.pages[i>>pageBits][i&(pageSize-1)] }

// add returns the index of a zeroed value.
func (s *paged[T]) add() int32 {
	if n := len(s.free); n > 0 {
		i := s.free[n-1]
		s.free = s.free[:n-1]
		*s.at(i) = *new(T)
		return i
	}
	if int(s.n) == len(s.pages)*pageSize {
		s.pages = append(s.pages, new([pageSize]T))
	}
	s.n++
	return s.n - 1
}

// release gives index i back for reuse.
func (s *paged[T]) release(i int32) { s.free = append(s.free, i) }
