package tlshello_test

import (
	"testing"

	"github.com/flowscope-go/flowscope/parsers/tlshello"
)

// The example of the JA3 description: the string, GREASE values left out
// wherever they are, and its MD5.
func TestJA3Example(t *testing.T) {
	c := &tlshello.ClientHello{
		Version:      769,
		Ciphers:      []uint16{0x0a0a, 47, 53, 5, 10, 49161, 49162, 49171, 49172, 50, 56, 19, 4},
		Extensions:   []uint16{0, 0x1a1a, 10, 11},
		Groups:       []uint16{0x2a2a, 23, 24, 25},
		PointFormats: []uint8{0},
	}
	text, sum := c.JA3()
	if want := "769,47-53-5-10-49161-49162-49171-49172-50-56-19-4,0-10-11,23-24-25,0"; text != want {
		t.Errorf("JA3 string\n got  %s\n want %s", text, want)
	}
	if want := "ada70206e40642a3e4461f35503241d5"; sum != want {
		t.Errorf("JA3 %s, want %s", sum, want)
	}
	if got := string(c.AppendJA3([]byte("x"))); got != "x"+sum {
		t.Errorf("AppendJA3 appended %q, want %q", got, "x"+sum)
	}

	s := &tlshello.ServerHello{Version: 771, Cipher: 4865, Extensions: []uint16{43, 0x3a3a, 51}}
	text, sum = s.JA3S()
	if text != "771,4865,43-51" || len(sum) != 32 {
		t.Errorf("JA3S %s %s", text, sum)
	}
	if got := string(s.AppendJA3S(nil)); got != sum {
		t.Errorf("AppendJA3S %s, want %s", got, sum)
	}
}

// The append forms allocate nothing for an ordinary hello.
func TestFingerprintsAppendWithoutAllocating(t *testing.T) {
	c := &tlshello.ClientHello{
		Version: 0x0303, Versions: []uint16{0x4a4a, 0x0304, 0x0303}, SNI: "example.com", ALPN: []string{"h2", "http/1.1"},
		Ciphers:    []uint16{0x1a1a, 0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8},
		Extensions: []uint16{0x2a2a, 0, 23, 65281, 10, 11, 35, 16, 5, 13, 18, 51, 45, 43, 27, 17513},
		Groups:     []uint16{0x2a2a, 29, 23, 24}, PointFormats: []uint8{0}, SigAlgs: []uint16{0x0403, 0x0804, 0x0401},
	}
	s := &tlshello.ServerHello{Version: 0x0303, Cipher: 0x1301, Extensions: []uint16{43, 51}}
	if got, want := string(c.AppendJA4(nil)), c.JA4(); got != want {
		t.Fatalf("AppendJA4 %s, JA4 %s", got, want)
	}
	buf := make([]byte, 0, 256)
	if n := testing.AllocsPerRun(100, func() {
		b := c.AppendJA3(buf[:0])
		b = c.AppendJA4(b)
		_ = s.AppendJA3S(b)
	}); n != 0 {
		t.Errorf("%.0f allocations for JA3, JA4 and JA3S", n)
	}
}
