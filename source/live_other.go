//go:build !linux

package source

import (
	"context"
	"io"

	"github.com/flowscope-go/flowscope/flowkey"
)

// Live is a live capture socket; on this platform OpenLive always fails.
type Live struct{}

// OpenLive returns ErrNoLive: live capture uses Linux's AF_PACKET.
func OpenLive(cfg LiveConfig) ([]*Live, error) { return nil, ErrNoLive }

// LinkType returns 0.
func (l *Live) LinkType() flowkey.LinkType { return 0 }

// Stop does nothing.
func (l *Live) Stop() {}

// ReadBatch returns io.EOF.
func (l *Live) ReadBatch(ctx context.Context, b *Batch) error { return io.EOF }

// Stats returns zero counters.
func (l *Live) Stats() Stats { return Stats{} }

// Close does nothing.
func (l *Live) Close() error { return nil }
