package flowscope

// maxHeld is how much memory one connection's orderer may hold while
// chunks wait for the other side: their bytes and heldCost each. Beyond
// it, or beyond the reassembly budget the orderers share with the
// reassembler (Config.ReassemblyBudget), the oldest waits are given up
// and chunks go out in capture order.
const maxHeld = 1 << 20

// heldCost is what a held chunk costs beyond its bytes: its entry in the
// list and its allocation's rounding. Counting bytes alone let chunks of
// one byte hold 80 times their bound.
const heldCost = 96

// orderer puts the chunks of one TCP connection in causal order: a chunk
// of one side comes after every chunk of the other side that it
// acknowledges (chunk.Ack), even when the capture shows them the other
// way round (a response captured before the last segment of its request);
// chunks that need not wait keep capture order. It passes them on to a
// handler, and is itself a streamHandler: the Driver gives it a
// connection's chunks, and its parsers get them from it. A chunk that
// must wait is copied and held, at most maxHeld bytes a connection.
type orderer struct {
	h       streamHandler
	dn      Doner      // h, if it can say it is done
	waiting [2][]chunk // copied chunks per side, in stream order
	held    int        // memory held in waiting: bytes plus heldCost each
	emitted [2]uint64  // stream offset up to which each side has been passed on
	// budget, when set, is the memory shared with the reassembler: held
	// counts in budget.used too.
	budget *reassembler
	// unordered counts, per side, chunks passed on before what they
	// acknowledge because a bound was reached (StreamStats.Unordered).
	unordered [2]uint64
}

func newOrderer(h streamHandler, budget *reassembler) *orderer {
	o := &orderer{h: h, budget: budget}
	o.dn, _ = h.(Doner)
	return o
}

// hold adds n to the memory held, here and in the shared budget.
func (o *orderer) hold(n int) {
	o.held += n
	if o.budget != nil {
		o.budget.used += n
	}
}

// over reports whether too much is held: by this connection, or across
// the budget.
func (o *orderer) over() bool {
	return o.held > maxHeld || o.budget != nil && o.held > 0 && o.budget.used > o.budget.budget
}

// Chunk takes the next chunk of one side. It passes it on at once when
// nothing of its side is waiting and the other side has been passed on as
// far as the chunk acknowledges; otherwise it keeps a copy.
func (o *orderer) Chunk(c *chunk) {
	s := c.Side
	if len(o.waiting[s]) == 0 && o.ready(c) {
		o.pass(c)
	} else {
		k := *c
		if c.Bytes != nil {
			k.Bytes = append([]byte(nil), c.Bytes...)
		}
		o.hold(len(k.Bytes) + heldCost)
		o.waiting[s] = append(o.waiting[s], k)
	}
	o.release(false)
}

// End passes on every chunk still waiting, in capture order where the
// other side never caught up, then ends the handler.
func (o *orderer) End(rec *FlowRecord) {
	o.release(true)
	for s := range o.unordered {
		rec.Streams[s].Unordered += o.unordered[s]
	}
	o.h.End(rec)
}

// ready reports whether c may be passed on: gaps never wait, and bytes
// wait until the other side has been passed on up to what they
// acknowledge.
func (o *orderer) ready(c *chunk) bool {
	return c.Gap > 0 || c.Ack <= o.emitted[c.Side.Other()]
}

func (o *orderer) pass(c *chunk) {
	o.emitted[c.Side] = c.Offset + uint64(len(c.Bytes)) + c.Gap
	o.h.Chunk(c)
}

// release passes on waiting chunks while some are ready: of two ready
// heads, the earlier captured goes first. With force (at the end), or
// when too much is held, the earliest head goes even if not ready.
func (o *orderer) release(force bool) {
	for {
		var pick = -1
		for s := range o.waiting {
			if len(o.waiting[s]) == 0 || !o.ready(&o.waiting[s][0]) {
				continue
			}
			if pick < 0 || o.waiting[s][0].Time < o.waiting[pick][0].Time {
				pick = s
			}
		}
		if pick < 0 && (force || o.over()) {
			for s := range o.waiting {
				if len(o.waiting[s]) > 0 && (pick < 0 || o.waiting[s][0].Time < o.waiting[pick][0].Time) {
					pick = s
				}
			}
			if pick >= 0 && !force {
				o.unordered[pick]++
			}
		}
		if pick < 0 {
			return
		}
		c := o.waiting[pick][0]
		o.waiting[pick][0] = chunk{} // its bytes are not the array's to keep
		o.waiting[pick] = o.waiting[pick][1:]
		if len(o.waiting[pick]) == 0 {
			o.waiting[pick] = nil
		}
		o.hold(-len(c.Bytes) - heldCost)
		o.pass(&c)
	}
}

// Done reports whether the handler is done (see Doner). Chunks still
// waiting are of no use to it then, and are dropped.
func (o *orderer) Done() bool {
	if o.dn == nil || !o.dn.Done() {
		return false
	}
	o.waiting = [2][]chunk{}
	o.hold(-o.held)
	return true
}

var (
	_ streamHandler = (*orderer)(nil)
	_ Doner         = (*orderer)(nil)
)
