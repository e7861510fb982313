package stage_test

import (
	"context"
	"errors"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flowscope-go/flowscope/sink"
	"github.com/flowscope-go/flowscope/stage"
)

// noLeaks fails the test if goroutines started during it are still
// running at cleanup.
func noLeaks(t *testing.T) {
	t.Helper()
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(2 * time.Second)
		for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		if n := runtime.NumGoroutine(); n > before {
			buf := make([]byte, 1<<16)
			t.Errorf("%d goroutines left running (had %d):\n%s", n, before, buf[:runtime.Stack(buf, true)])
		}
	})
}

// count emits 0..n-1, one per item.
func count(g *stage.Graph, n int) stage.Port[int] {
	return stage.Generate(g, "count", func(ctx context.Context, emit func(int) error) error {
		for i := range n {
			if err := emit(i); err != nil {
				return err
			}
		}
		return nil
	})
}

func collect[T any](g *stage.Graph, in stage.Port[T]) *[]T {
	var out []T
	ch := stage.In(in, "collect")
	g.Add("collect", func(ctx context.Context) error {
		for v := range ch {
			out = append(out, v)
		}
		return nil
	})
	return &out
}

func TestMapFilterDrain(t *testing.T) {
	noLeaks(t)
	g := stage.New(nil)
	sq := stage.Map(g, "square", count(g, 100), func(i int) (int, error) { return i * i, nil })
	even := stage.Filter(g, "even", sq, func(i int) bool { return i%2 == 0 })
	got := collect(g, even)
	if err := g.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(*got) != 50 || (*got)[49] != 98*98 {
		t.Errorf("got %d items ending %d, want 50 ending %d", len(*got), (*got)[len(*got)-1], 98*98)
	}
}

func TestTeeAndMerge(t *testing.T) {
	noLeaks(t)
	g := stage.New(&stage.Config{Buffer: 1})
	outs := stage.Tee(g, "tee", count(g, 1000), 3)
	neg := stage.Map(g, "neg", outs[1], func(i int) (int, error) { return -i, nil })
	got := collect(g, stage.Merge(g, "merge", outs[0], neg, outs[2]))
	if err := g.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	var sum, n int
	for _, v := range *got {
		sum += v
		n++
	}
	if n != 3000 || sum != 999*1000/2 {
		t.Errorf("merged %d items with sum %d, want 3000 with sum %d", n, sum, 999*1000/2)
	}
}

func TestMergeInOrderIsRoundRobin(t *testing.T) {
	noLeaks(t)
	g := stage.New(nil)
	a := count(g, 3)
	b := stage.Map(g, "b", count(g, 3), func(i int) (int, error) { return 10 + i, nil })
	got := collect(g, stage.MergeInOrder(g, "merge", a, b))
	if err := g.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if want := []int{0, 10, 1, 11, 2, 12}; !slices.Equal(*got, want) {
		t.Errorf("got %v, want %v", *got, want)
	}
}

func TestPanicBecomesError(t *testing.T) {
	noLeaks(t)
	g := stage.New(nil)
	boom := stage.Map(g, "boom", count(g, 1_000_000), func(i int) (int, error) {
		if i == 10 {
			panic("bad item")
		}
		return i, nil
	})
	collect(g, boom)
	err := g.Run(context.Background())
	var se *stage.StageError
	if !errors.As(err, &se) || se.Stage != "boom" || !errors.Is(err, stage.ErrPanic) || !strings.Contains(err.Error(), "bad item") {
		t.Fatalf("Run = %v, want a panic error naming stage boom", err)
	}
	if len(se.Stack) == 0 {
		t.Error("panic error carries no stack")
	}
}

func TestStageErrorCancelsOthers(t *testing.T) {
	noLeaks(t)
	g := stage.New(nil)
	bad := errors.New("sink full")
	in := stage.Map(g, "batch", count(g, 1_000_000), func(i int) (*stage.Batch[int], error) {
		b := stage.NewPool[int](1, 1).Get()
		b.Items = append(b.Items, i)
		return b, nil
	})
	var seen atomic.Int64
	stage.To(g, "write", in, sink.Func[int](func(_ context.Context, items []int) error {
		if seen.Add(1) == 5 {
			return bad
		}
		return nil
	}))
	if err := g.Run(context.Background()); !errors.Is(err, bad) || !strings.Contains(err.Error(), "write") {
		t.Fatalf("Run = %v, want the sink's error naming stage write", err)
	}
}

func TestCancelStopsPromptly(t *testing.T) {
	noLeaks(t)
	g := stage.New(nil)
	endless := stage.Generate(g, "endless", func(ctx context.Context, emit func(int) error) error {
		for i := 0; ; i++ {
			if err := emit(i); err != nil {
				return err
			}
		}
	})
	// A slow consumer: the source is held back by backpressure.
	slow := stage.Map(g, "slow", endless, func(i int) (int, error) { time.Sleep(time.Millisecond); return i, nil })
	collect(g, slow)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx) }()
	time.Sleep(20 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Run = %v, want context.Canceled", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Run did not return within 2s of cancel")
	}
}

func TestDanglingPortRefused(t *testing.T) {
	g := stage.New(nil)
	count(g, 1)
	if err := g.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "no consumer") {
		t.Errorf("Run = %v, want a no-consumer error", err)
	}
}

func TestPortConsumedTwicePanics(t *testing.T) {
	g := stage.New(nil)
	p := count(g, 1)
	stage.In(p, "a")
	defer func() {
		if r := recover(); r == nil || !strings.Contains(r.(string), `already consumed by "a"`) {
			t.Errorf("second In: recover() = %v", r)
		}
	}()
	stage.In(p, "b")
}

// Every stage runs with a "stage" profiler label naming it, so that a CPU
// profile of a pipeline can be split by stage (go tool pprof -tags).
func TestStagesCarryProfilerLabels(t *testing.T) {
	g := stage.New(nil)
	var names sync.Map
	g.Add("first", func(ctx context.Context) error {
		v, _ := pprof.Label(ctx, "stage")
		names.Store("first", v)
		return nil
	})
	g.Add("second", func(ctx context.Context) error {
		v, _ := pprof.Label(ctx, "stage")
		names.Store("second", v)
		return nil
	})
	if err := g.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"first", "second"} {
		if v, _ := names.Load(n); v != n {
			t.Errorf("stage %q ran with label %q", n, v)
		}
	}
}
