package filter_test

import (
	"fmt"
	"net/netip"

	"github.com/flowscope-go/flowscope/filter"
	"github.com/flowscope-go/flowscope/flowkey"
	"github.com/flowscope-go/flowscope/internal/pcapgen"
)

func ExampleCompile() {
	f, err := filter.Compile("udp port 53 or tcp dst port 443", flowkey.LinkEthernet)
	if err != nil {
		panic(err)
	}
	dns := pcapgen.UDP(netip.MustParseAddrPort("10.0.0.1:5353"), netip.MustParseAddrPort("10.0.0.2:53"), make([]byte, 30))
	web := pcapgen.TCP(netip.MustParseAddrPort("10.0.0.1:40000"), netip.MustParseAddrPort("10.0.0.2:80"), 1, 0, pcapgen.SYN, nil)
	fmt.Println(f.Match(dns), f.Match(web), len(f.Program()) > 0)

	_, err = filter.Compile("port 70000", flowkey.LinkEthernet)
	fmt.Println(err)
	// Output:
	// true false true
	// filter "port 70000": at offset 5 ("70000"): port out of range (at most 65535)
}
