package filter

import (
	"fmt"

	"golang.org/x/net/bpf"
)

// maxInstructions is the longest program Linux accepts (BPF_MAXINSNS).
const maxInstructions = 4096

// label names a place in the program, resolved when it is placed.
type label int

// insn is an instruction being generated: a plain one, or a conditional
// jump to two labels.
type insn struct {
	op   bpf.Instruction
	jump bool
	cond bpf.JumpTest
	val  uint32
	t, f label
}

// coder builds a program from tests: a test emits code that continues at
// label t when it holds and at f when it does not. Labels are only ever
// placed after the code that jumps to them, so every jump goes forward,
// as classic BPF requires.
type coder struct {
	ins []insn
	at  []int // label -> instruction index, -1 until placed
}

func (c *coder) newLabel() label {
	c.at = append(c.at, -1)
	return label(len(c.at) - 1)
}

func (c *coder) place(l label) { c.at[l] = len(c.ins) }

func (c *coder) emit(op bpf.Instruction) { c.ins = append(c.ins, insn{op: op}) }

func (c *coder) jump(cond bpf.JumpTest, val uint32, t, f label) {
	c.ins = append(c.ins, insn{jump: true, cond: cond, val: val, t: t, f: f})
}

// A test is a piece of code with two exits.
type test func(c *coder, t, f label)

func and(a, b test) test {
	return func(c *coder, t, f label) {
		mid := c.newLabel()
		a(c, mid, f)
		c.place(mid)
		b(c, t, f)
	}
}

func or(a, b test) test {
	return func(c *coder, t, f label) {
		mid := c.newLabel()
		a(c, t, mid)
		c.place(mid)
		b(c, t, f)
	}
}

func not(a test) test {
	return func(c *coder, t, f label) { a(c, f, t) }
}

// always and never go to one exit whatever A holds.
func always(c *coder, t, _ label) {
	c.ins = append(c.ins, insn{jump: true, cond: bpf.JumpEqual, t: t, f: t})
}

func never(c *coder, _, f label) {
	c.ins = append(c.ins, insn{jump: true, cond: bpf.JumpEqual, t: f, f: f})
}

// cmp returns a test that loads size bytes at off and compares them
// with val (after and-ing with mask, when not zero).
func cmp(off uint32, size int, mask uint32, cond bpf.JumpTest, val uint32) test {
	return func(c *coder, t, f label) {
		c.emit(bpf.LoadAbsolute{Off: off, Size: size})
		if mask != 0 {
			c.emit(bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: mask})
		}
		c.jump(cond, val, t, f)
	}
}

// cmpX is cmp at off past the IPv4 header whose start is ipOff (the
// header length taken from the packet into X).
func cmpX(ipOff, off uint32, size int, cond bpf.JumpTest, val uint32) test {
	return func(c *coder, t, f label) {
		c.emit(bpf.LoadMemShift{Off: ipOff})
		c.emit(bpf.LoadIndirect{Off: ipOff + off, Size: size})
		c.jump(cond, val, t, f)
	}
}

// jset is a test that holds when the loaded value has any bit of mask.
func jset(off uint32, size int, mask uint32) test {
	return func(c *coder, t, f label) {
		c.emit(bpf.LoadAbsolute{Off: off, Size: size})
		c.jump(bpf.JumpBitsSet, mask, t, f)
	}
}

// assemble resolves labels and returns the program. A conditional jump
// reaches at most 255 instructions ahead; one that must go further is
// laid out as a conditional jump over two long jumps, and the layout is
// repeated until every jump fits (lengthening one can push another out
// of reach, never the reverse).
func (c *coder) assemble() ([]bpf.RawInstruction, error) {
	long := make([]bool, len(c.ins))
	for {
		prog, grew := c.layout(long)
		if grew {
			continue
		}
		if len(prog) > maxInstructions {
			return nil, fmt.Errorf("program too long: %d instructions, Linux takes at most %d", len(prog), maxInstructions)
		}
		return bpf.Assemble(prog)
	}
}

// layout lays the program out with the jumps marked long as such; it
// marks more and reports grew when some short jump does not reach.
func (c *coder) layout(long []bool) (out []bpf.Instruction, grew bool) {
	// pos[i] is where instruction i starts in the output.
	pos := make([]int, len(c.ins)+1)
	n := 0
	for i, in := range c.ins {
		pos[i] = n
		if in.jump && long[i] {
			n += 3
		} else {
			n++
		}
	}
	pos[len(c.ins)] = n
	target := func(l label) int { return pos[c.at[l]] }
	out = make([]bpf.Instruction, 0, n)
	for i, in := range c.ins {
		if !in.jump {
			out = append(out, in.op)
			continue
		}
		here := pos[i]
		if long[i] {
			out = append(out,
				bpf.JumpIf{Cond: in.cond, Val: in.val, SkipTrue: 0, SkipFalse: 1},
				bpf.Jump{Skip: uint32(target(in.t) - (here + 2))},
				bpf.Jump{Skip: uint32(target(in.f) - (here + 3))})
			continue
		}
		st, sf := target(in.t)-(here+1), target(in.f)-(here+1)
		if st > 255 || sf > 255 {
			long[i], grew = true, true
			continue
		}
		out = append(out, bpf.JumpIf{Cond: in.cond, Val: in.val, SkipTrue: uint8(st), SkipFalse: uint8(sf)})
	}
	return out, grew
}
