package sink

import (
	"bufio"
	"context"
	"fmt"
	"io"

	"github.com/flowscope-go/flowscope"
)

// Lines writes records to a writer, one per line, in an Encoder's format
// (ZeekJSON, say): every kind of record, a user's parsers' records too, in
// the order it is given them. The zero Lines is not usable; see NewLines.
type Lines struct {
	w   *bufio.Writer
	enc Encoder
	buf []byte
}

// NewLines returns a sink writing to w through a buffer, in enc's format.
// Flush writes the buffer out; closing w is the caller's job. When w is
// a *bufio.Writer it is used as the buffer.
func NewLines(w io.Writer, enc Encoder) *Lines {
	bw, ok := w.(*bufio.Writer)
	if !ok {
		bw = bufio.NewWriterSize(w, 64<<10)
	}
	return &Lines{w: bw, enc: enc, buf: make([]byte, 0, 1024)}
}

// Write encodes recs, a line each.
func (l *Lines) Write(_ context.Context, recs []flowscope.Record) error {
	for _, r := range recs {
		l.buf = append(l.enc.Append(l.buf[:0], r), '\n')
		if _, err := l.w.Write(l.buf); err != nil {
			return fmt.Errorf("write %s record: %w", r.Schema().Kind, err)
		}
	}
	return nil
}

// Flush writes buffered records to the underlying writer.
func (l *Lines) Flush() error {
	if err := l.w.Flush(); err != nil {
		return fmt.Errorf("flush records: %w", err)
	}
	return nil
}

var _ Sink[flowscope.Record] = (*Lines)(nil)
