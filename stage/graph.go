package stage

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"runtime/pprof"
	"sync"

	"golang.org/x/sync/errgroup"
)

// Config sets graph-wide options. The zero Config means defaults; a nil
// *Config passed to New does too.
type Config struct {
	// Buffer is the capacity of each channel between stages, in batches.
	// Zero means 2: a batch in each channel and one at each end keep the
	// stages busy, and fewer batches in flight keep less memory warm (on
	// the workload capture 2 took 0.96-0.98x the time of 4 with two
	// workers, 1 was slower; bench/README.md).
	Buffer int
}

// Graph is a set of stages and the channels between them. Build it with
// the builder functions of this package, then call Run once. A Graph is
// not safe for concurrent building.
type Graph struct {
	mu      sync.Mutex
	endErr  error // set by EndWith
	buffer  int
	stages  []stageFunc
	ports   []*portState
	started bool
}

type stageFunc struct {
	name string
	run  func(ctx context.Context) error
}

type portState struct {
	from     string
	consumer string
	// fuse, when set by the stage that produces the port, lets a
	// Partition of the port run inside that stage (see FromSource).
	fuse any
}

// New returns an empty graph.
func New(cfg *Config) *Graph {
	g := &Graph{buffer: 2}
	if cfg != nil && cfg.Buffer > 0 {
		g.buffer = cfg.Buffer
	}
	return g
}

// Port is the output of a stage: a bounded channel of T that exactly one
// later stage consumes.
type Port[T any] struct {
	g     *Graph
	ch    chan T
	state *portState
}

// NewPort creates an output port for the stage named from. Builders of
// custom stages call it, then Add a function that sends on Chan(port) and
// closes it when done.
func NewPort[T any](g *Graph, from string) Port[T] {
	st := &portState{from: from}
	g.ports = append(g.ports, st)
	return Port[T]{g: g, ch: make(chan T, g.buffer), state: st}
}

// Out returns the sending side of p, for the stage that feeds it. That
// stage must close it, once, when it is done.
func Out[T any](p Port[T]) chan<- T { return p.ch }

// In marks p as consumed by the stage named by and returns its receiving
// side. A port has exactly one consumer; a second In panics.
func In[T any](p Port[T], by string) <-chan T {
	if p.state == nil {
		panic("stage.In: zero Port")
	}
	if p.state.consumer != "" {
		panic(fmt.Sprintf("stage.In: output of %q is already consumed by %q", p.state.from, p.state.consumer))
	}
	p.state.consumer = by
	return p.ch
}

// Add registers a stage function. It runs in its own goroutine when the
// graph runs; its error (or panic) stops the graph.
func (g *Graph) Add(name string, run func(ctx context.Context) error) {
	if g.started {
		panic("stage.Graph.Add: graph already running")
	}
	g.stages = append(g.stages, stageFunc{name, run})
}

// StageError is the error of a stage that failed or panicked.
type StageError struct {
	Stage string
	Err   error
	// Stack is set when the stage panicked.
	Stack []byte
}

func (e *StageError) Error() string { return fmt.Sprintf("stage %s: %v", e.Stage, e.Err) }
func (e *StageError) Unwrap() error { return e.Err }

// ErrPanic is wrapped by the StageError of a stage that panicked.
var ErrPanic = errors.New("panic")

// Run starts every stage and waits for all of them to return. It returns
// nil when the input drained through every stage, the first stage error
// otherwise (the other stages are cancelled), or ctx's error when ctx was
// cancelled first. A graph runs once.
func (g *Graph) Run(ctx context.Context) error {
	if g.started {
		return errors.New("stage: graph already ran")
	}
	g.started = true
	for _, p := range g.ports {
		if p.consumer == "" {
			return fmt.Errorf("stage: output of %q has no consumer", p.from)
		}
	}
	eg, ctx := errgroup.WithContext(ctx)
	for _, s := range g.stages {
		eg.Go(func() (err error) {
			defer func() {
				if r := recover(); r != nil {
					err = &StageError{Stage: s.name, Err: fmt.Errorf("%w: %v", ErrPanic, r), Stack: debug.Stack()}
				}
			}()
			// The stage's name labels its samples in CPU profiles
			// (go tool pprof -tagfocus stage=NAME, or -tags).
			pprof.Do(ctx, pprof.Labels("stage", s.name), func(ctx context.Context) { err = s.run(ctx) })
			if err != nil {
				var se *StageError
				if errors.As(err, &se) {
					return err
				}
				return &StageError{Stage: s.name, Err: err}
			}
			return nil
		})
	}
	// errgroup keeps the first error: the cause, not the cancellations
	// that it triggered in the other stages.
	if err := eg.Wait(); err != nil {
		return err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.endErr
}

// EndWith records err as the graph's result without cancelling anything.
// A source stage whose input fails calls it and then returns nil, closing
// its output: the stages after it drain and flush everything read before
// the fault, and Run returns err (wrapped in a StageError naming stage)
// once they are done. The first call wins.
func (g *Graph) EndWith(stage string, err error) {
	if err == nil {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.endErr == nil {
		g.endErr = &StageError{Stage: stage, Err: err}
	}
}

// send delivers v on ch unless ctx is cancelled first. A cancelled ctx
// always wins, even when ch has room, so that nothing is sent after a
// cancellation.
func send[T any](ctx context.Context, ch chan<- T, v T) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case ch <- v:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
