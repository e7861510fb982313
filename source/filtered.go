package source

import (
	"context"
	"fmt"

	"github.com/flowscope-go/flowscope/filter"
	"github.com/flowscope-go/flowscope/flowkey"
)

// Filtered passes on only the packets a capture filter expression (see
// package filter) accepts. The expression is compiled for each link type
// the packets arrive with. For live capture the kernel runs the filter
// instead (see Live); Filtered is for files and other sources.
type Filtered struct {
	src    Source
	expr   string
	byLink map[flowkey.LinkType]*filter.Filter
	// rejected and rejectedBytes count the packets the filter dropped
	// and their captured bytes.
	rejected, rejectedBytes uint64
}

// NewFiltered wraps src. It checks the expression's syntax at once (for
// Ethernet); a link type the expression cannot apply to is an error when
// its first packet arrives.
func NewFiltered(src Source, expr string) (*Filtered, error) {
	f, err := filter.Compile(expr, flowkey.LinkEthernet)
	if err != nil {
		return nil, err
	}
	return &Filtered{src: src, expr: expr, byLink: map[flowkey.LinkType]*filter.Filter{flowkey.LinkEthernet: f}}, nil
}

// ReadBatch implements Source: it reads batches from the wrapped source
// until one has a packet the filter accepts, or ends. A batch that comes
// back empty without error (a live source's clock tick) is passed on.
func (f *Filtered) ReadBatch(ctx context.Context, b *Batch) error {
	for {
		err := f.src.ReadBatch(ctx, b)
		read := len(b.Packets)
		keep := b.Packets[:0]
		for i := range b.Packets {
			p := &b.Packets[i]
			flt, ferr := f.forLink(p.LinkType)
			if ferr != nil {
				// The packets kept so far are still delivered.
				b.Packets = keep
				return ferr
			}
			if flt.Match(p.Data) {
				keep = append(keep, *p)
			} else {
				f.rejected++
				f.rejectedBytes += uint64(len(p.Data))
			}
		}
		b.Packets = keep
		if err != nil || len(keep) > 0 || read == 0 {
			return err
		}
	}
}

func (f *Filtered) forLink(lt flowkey.LinkType) (*filter.Filter, error) {
	if flt, ok := f.byLink[lt]; ok {
		return flt, nil
	}
	flt, err := filter.Compile(f.expr, lt)
	if err != nil {
		return nil, fmt.Errorf("packets with link type %d: %w", lt, err)
	}
	f.byLink[lt] = flt
	return flt, nil
}

// Stats implements Source: the wrapped source's counters, with Packets
// and Bytes counting what the filter passed and Filtered what it did not.
func (f *Filtered) Stats() Stats {
	st := f.src.Stats()
	st.Filtered += f.rejected
	st.Packets -= min(st.Packets, f.rejected)
	st.Bytes -= min(st.Bytes, f.rejectedBytes)
	return st
}

// Close implements Source.
func (f *Filtered) Close() error { return f.src.Close() }
