package filter

import (
	"testing"

	"golang.org/x/net/bpf"

	"github.com/flowscope-go/flowscope/flowkey"
)

// FuzzCompile feeds arbitrary expressions to the compiler and arbitrary
// packets to what it compiles: no panic, no program Linux would refuse,
// and an error for everything it cannot compile.
func FuzzCompile(f *testing.F) {
	for _, e := range expressions {
		f.Add(e, []byte{})
	}
	for _, p := range probes() {
		f.Add("tcp port 80 or vlan 100 and udp", p.data)
	}
	f.Add("host 1.2.3.4 or or", []byte{})
	f.Add("((((", []byte{})
	f.Add("net 10 mask", []byte{})
	f.Fuzz(func(t *testing.T, expr string, pkt []byte) {
		for _, lt := range []flowkey.LinkType{flowkey.LinkEthernet, flowkey.LinkRaw, flowkey.LinkLinuxSLL2, flowkey.LinkNull} {
			flt, err := Compile(expr, lt)
			if err != nil {
				if err.Error() == "" {
					t.Fatalf("%q: empty error", expr)
				}
				continue
			}
			if n := len(flt.Program()); n == 0 || n > maxInstructions {
				t.Fatalf("%q: program of %d instructions", expr, n)
			}
			// The interpreter against x/net/bpf's on the same program.
			insts, ok := bpf.Disassemble(flt.Program())
			if !ok {
				t.Fatalf("%q: program does not disassemble", expr)
			}
			vm, err := bpf.NewVM(insts)
			if err != nil {
				t.Fatalf("%q: %v", expr, err)
			}
			n, err := vm.Run(pkt)
			if want := err == nil && n > 0; flt.Match(pkt) != want {
				t.Fatalf("%q on % x: Match %v, x/net/bpf %v", expr, pkt, !want, want)
			}
		}
	})
}
