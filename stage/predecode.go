package stage

import (
	"github.com/flowscope-go/flowscope"
	"github.com/flowscope-go/flowscope/flowkey"
)

// predecoded holds the decoded headers of a batch's packets, index for
// index, and what decoding each returned.
type predecoded struct {
	d   []flowkey.Decoded
	err []error
}

func (p *predecoded) reset() {
	clear(p.err)
	p.d, p.err = p.d[:0], p.err[:0]
}

// of returns the decoded headers of b's packets, or nil when b carries
// none (or not for all of its packets).
func (p *predecoded) of(b *Batch[flowscope.Packet]) *predecoded {
	if p == nil || len(p.err) != len(b.Items) || len(b.Items) == 0 {
		return nil
	}
	return p
}

// predecode decodes the headers of b's packets into b. The stage that
// reads packets runs it when its consumer is a flow tracker: the headers
// are decoded on the core that has just copied them in, while they are
// in its cache, and the tracker, usually the busier stage, reads the
// decoded fields in order instead of missing the cache on each header.
func predecode(b *Batch[flowscope.Packet], dec *flowkey.Decoder) {
	if b.pre == nil {
		b.pre = &predecoded{}
	}
	p := b.pre
	n := len(b.Items)
	if cap(p.d) < n {
		p.d = make([]flowkey.Decoded, n)
		p.err = make([]error, n)
	}
	p.d, p.err = p.d[:n], p.err[:n]
	for i := range b.Items {
		pk := &b.Items[i]
		p.err[i] = dec.Decode(pk.LinkType, pk.Data, &p.d[i])
	}
}

// predecodeFor asks the stage producing in to decode packets for the
// tracker about to consume it, when that stage can (it reads a source,
// and nothing else consumes its output).
func predecodeFor(in Port[*Batch[flowscope.Packet]]) {
	if f, ok := in.state.fuse.(*fusion[flowscope.Packet]); ok && in.state.consumer == "" && f.split == nil {
		f.predecode = true
	}
}
