package filter_test

import (
	"fmt"

	"github.com/flowscope-go/flowscope/filter"
	"github.com/flowscope-go/flowscope/flowkey"
)

// frame returns a minimal Ethernet + IPv4 frame with a transport header
// whose ports are sport and dport.
func frame(proto byte, sport, dport uint16) []byte {
	f := make([]byte, 14+20+20)
	f[12], f[13] = 0x08, 0x00 // IPv4
	ip := f[14:]
	ip[0], ip[3], ip[9] = 0x45, 40, proto
	copy(ip[12:], []byte{10, 0, 0, 1, 10, 0, 0, 2})
	ip[20], ip[21], ip[22], ip[23] = byte(sport>>8), byte(sport), byte(dport>>8), byte(dport)
	return f
}

func ExampleCompile() {
	f, err := filter.Compile("udp port 53 or tcp dst port 443", flowkey.LinkEthernet)
	if err != nil {
		panic(err)
	}
	fmt.Println(f.Match(frame(17, 5353, 53)), f.Match(frame(6, 40000, 443)), f.Match(frame(6, 40000, 80)))

	_, err = filter.Compile("port 70000", flowkey.LinkEthernet)
	fmt.Println(err)
	// Output:
	// true true false
	// filter "port 70000": at offset 5 ("70000"): port out of range (at most 65535)
}
