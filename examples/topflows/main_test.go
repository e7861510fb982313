package main

import (
	"context"
	"errors"
	"testing"
)

func TestRunOnSample(t *testing.T) {
	if err := run(context.Background(), "", 3); err != nil {
		t.Fatal(err)
	}
}

func TestRunStopsOnCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := run(ctx, "", 3); !errors.Is(err, context.Canceled) {
		t.Fatalf("run after cancel = %v, want context.Canceled", err)
	}
}
