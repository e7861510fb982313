package flowscope

// maxHeld is how many bytes one connection's orderer may hold while
// chunks wait for the other side; beyond it, the oldest waits are given
// up and chunks go out in capture order.
const maxHeld = 1 << 20

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
	held    int
	emitted [2]uint64 // stream offset up to which each side has been passed on
}

func newOrderer(h streamHandler) *orderer {
	o := &orderer{h: h}
	o.dn, _ = h.(Doner)
	return o
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
			o.held += len(k.Bytes)
		}
		o.waiting[s] = append(o.waiting[s], k)
	}
	o.release(false)
}

// End passes on every chunk still waiting, in capture order where the
// other side never caught up, then ends the handler.
func (o *orderer) End(rec *FlowRecord) {
	o.release(true)
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
		if pick < 0 && (force || o.held > maxHeld) {
			for s := range o.waiting {
				if len(o.waiting[s]) > 0 && (pick < 0 || o.waiting[s][0].Time < o.waiting[pick][0].Time) {
					pick = s
				}
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
		o.held -= len(c.Bytes)
		o.pass(&c)
	}
}

// Done reports whether the handler is done (see Doner). Chunks still
// waiting are of no use to it then, and are dropped.
func (o *orderer) Done() bool {
	if o.dn == nil || !o.dn.Done() {
		return false
	}
	o.waiting, o.held = [2][]chunk{}, 0
	return true
}

var (
	_ streamHandler = (*orderer)(nil)
	_ Doner         = (*orderer)(nil)
)
