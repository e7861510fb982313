package flowscope

// segList holds one side's out-of-order segments, sorted by sequence
// number and not overlapping, in blocks of at most segBlock segments, so
// that a segment goes in at any place for the cost of a search and a
// shift within one block: a sorted slice cost a shift of the whole list,
// and tiny segments arriving in reverse made every insertion move up to
// MaxBufferPerSide/segmentCost entries.
type segList struct {
	blocks [][]segment // each sorted and not empty; block i before block i+1
	n      int
}

// segBlock is the most segments a block holds; a fuller one is split.
const segBlock = 64

// segPos is a place in a segList: block b, index i.
type segPos struct{ b, i int }

func (l *segList) len() int { return l.n }

// front returns the first segment; the list must not be empty.
func (l *segList) front() *segment { return &l.blocks[0][0] }

// popFront removes the first segment and returns it.
func (l *segList) popFront() segment {
	blk := l.blocks[0]
	s := blk[0]
	blk[0] = segment{}
	l.n--
	if len(blk) > 1 {
		l.blocks[0] = blk[1:]
		return s
	}
	// The first block is empty: drop it.
	k := copy(l.blocks, l.blocks[1:])
	l.blocks[k] = nil
	l.blocks = l.blocks[:k]
	return s
}

// at returns the segment at p, which must be valid.
func (l *segList) at(p segPos) *segment { return &l.blocks[p.b][p.i] }

// valid reports whether p is a place in the list (not past its end).
func (l *segList) valid(p segPos) bool { return p.b < len(l.blocks) }

// next returns the place after p.
func (l *segList) next(p segPos) segPos {
	if p.i++; p.i == len(l.blocks[p.b]) {
		p = segPos{p.b + 1, 0}
	}
	return p
}

// endPast returns the place of the first segment that ends past abs (the
// list's end if none does): segments do not overlap, so their ends are
// sorted as their starts are.
func (l *segList) endPast(abs uint64) segPos {
	ends := func(s *segment) uint64 { return s.seq + uint64(len(s.data)) }
	b, hi := 0, len(l.blocks)
	for b < hi { // the first block whose last segment ends past abs
		m := int(uint(b+hi) >> 1)
		blk := l.blocks[m]
		if ends(&blk[len(blk)-1]) <= abs {
			b = m + 1
		} else {
			hi = m
		}
	}
	if b == len(l.blocks) {
		return segPos{b, 0}
	}
	blk := l.blocks[b]
	i, hi := 0, len(blk)
	for i < hi {
		m := int(uint(i+hi) >> 1)
		if ends(&blk[m]) <= abs {
			i = m + 1
		} else {
			hi = m
		}
	}
	return segPos{b, i}
}

// insert puts s in its place by sequence number.
func (l *segList) insert(s segment) {
	l.n++
	nb := len(l.blocks)
	if nb == 0 {
		l.blocks = append(l.blocks, append(make([]segment, 0, 4), s))
		return
	}
	// The last block whose first segment starts before s, or the first.
	b, hi := 0, nb
	for b < hi {
		m := int(uint(b+hi) >> 1)
		if l.blocks[m][0].seq <= s.seq {
			b = m + 1
		} else {
			hi = m
		}
	}
	b = max(b-1, 0)
	blk := l.blocks[b]
	i := len(blk)
	for i > 0 && blk[i-1].seq > s.seq { // at most segBlock steps
		i--
	}
	blk = append(blk, segment{})
	copy(blk[i+1:], blk[i:])
	blk[i] = s
	if len(blk) <= segBlock {
		l.blocks[b] = blk
		return
	}
	// Split the block in two halves.
	h := len(blk) / 2
	second := append(make([]segment, 0, segBlock), blk[h:]...)
	clear(blk[h:])
	l.blocks[b] = blk[:h]
	l.blocks = append(l.blocks, nil)
	copy(l.blocks[b+2:], l.blocks[b+1:])
	l.blocks[b+1] = second
}

// reset empties the list, handing each segment's buffer to free.
func (l *segList) reset(free func([]byte)) {
	for _, blk := range l.blocks {
		for _, s := range blk {
			free(s.data)
		}
	}
	*l = segList{}
}
