package filter

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/flowscope-go/flowscope/flowkey"
	"github.com/flowscope-go/flowscope/internal/pcapgen"
	"golang.org/x/net/bpf"
)

// probe is a test packet, an Ethernet frame with a name for messages.
type probe struct {
	name string
	data []byte
}

func ap(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

// probes is a set of frames chosen to tell filters apart: both IP
// versions, every transport the primitives name, fragments, VLAN and
// QinQ tags, ARP, IPv4 options, truncation.
func probes() []probe {
	tcp4 := pcapgen.TCP(ap("10.0.0.1:40000"), ap("10.0.0.2:80"), 1, 0, pcapgen.SYN, nil)
	udp4 := pcapgen.UDP(ap("10.0.0.1:5353"), ap("10.1.2.3:53"), make([]byte, 30))
	// The later fragments start with bytes that read as ports 53: only
	// the fragment offset check keeps "port 53" from matching them.
	bigPayload := make([]byte, 1200)
	copy(bigPayload[392:], []byte{0, 53, 0, 53})
	big := pcapgen.UDP(ap("10.0.0.1:5353"), ap("10.1.2.3:53"), bigPayload)
	frags := pcapgen.Fragments(big, 400, 7)
	udp6 := pcapgen.UDP(ap("[2001:db8:1::5]:53"), ap("[fe80::1]:1000"), make([]byte, 20))
	ps := []probe{
		{"tcp4 syn 10.0.0.1:40000>10.0.0.2:80", tcp4},
		{"tcp4 10.0.0.2:80>10.0.0.1:40000", pcapgen.TCP(ap("10.0.0.2:80"), ap("10.0.0.1:40000"), 1, 2, pcapgen.SYN|pcapgen.ACK, nil)},
		{"tcp4 192.168.1.5:1234>8.8.8.8:443", pcapgen.TCP(ap("192.168.1.5:1234"), ap("8.8.8.8:443"), 1, 0, pcapgen.ACK, []byte("hello"))},
		{"udp4 10.0.0.1:5353>10.1.2.3:53", udp4},
		{"udp4 172.16.0.1:1500>172.16.0.2:2500", pcapgen.UDP(ap("172.16.0.1:1500"), ap("172.16.0.2:2500"), make([]byte, 100))},
		{"udp4 1,100 bytes", pcapgen.UDP(ap("10.0.0.9:4000"), ap("10.0.0.10:4001"), make([]byte, 1100))},
		{"udp4 dhcp 0.0.0.0:68>255.255.255.255:67", pcapgen.UDP(ap("0.0.0.0:68"), ap("255.255.255.255:67"), make([]byte, 240))},
		{"udp4 first fragment to 53", frags[0]},
		{"udp4 later fragment to 53", frags[1]},
		{"tcp6 [2001:db8::1]:40000>[2001:db8::2]:80", pcapgen.TCP(ap("[2001:db8::1]:40000"), ap("[2001:db8::2]:80"), 1, 0, pcapgen.SYN, nil)},
		{"udp6 [2001:db8:1::5]:53>[fe80::1]:1000", udp6},
		{"udp6 in a fragment header", ip6Fragment6(udp6)},
		{"tcp6 after hop-by-hop", ip6HopByHop(pcapgen.TCP(ap("[2001:db8::1]:40001"), ap("[2001:db8::2]:80"), 1, 0, pcapgen.ACK, nil))},
		{"icmp4 echo", ipProtoFrame(pcapgen.UDP(ap("10.0.0.1:0"), ap("10.0.0.2:0"), make([]byte, 8)), 1)},
		{"icmp6 echo", ipProtoFrame(pcapgen.UDP(ap("[2001:db8::1]:0"), ap("[2001:db8::2]:0"), make([]byte, 8)), 58)},
		{"sctp4 to 80", ipProtoFrame(pcapgen.UDP(ap("10.0.0.7:3000"), ap("10.0.0.8:80"), make([]byte, 16)), 132)},
		{"arp 10.0.0.1 asks 10.0.0.2", arpFrame(0x0806, "10.0.0.1", "10.0.0.2")},
		{"rarp 10.9.9.9", arpFrame(0x8035, "10.9.9.9", "10.0.0.2")},
		{"tcp4 with IP options to 80", ip4Options(pcapgen.TCP(ap("10.0.0.3:1111"), ap("10.0.0.4:80"), 1, 0, pcapgen.ACK, nil))},
		{"vlan 100 tcp4 to 80", vlanTag(tcp4, 0x8100, 100)},
		{"vlan 200 udp6", vlanTag(udp6, 0x8100, 200)},
		{"qinq 300/100 tcp4", vlanTag(vlanTag(tcp4, 0x8100, 100), 0x88a8, 300)},
		{"other MACs udp4", otherMACs(udp4)},
		{"truncated IPv4", tcp4[:20]},
		{"ethernet header only", tcp4[:14]},
	}
	return ps
}

// ipProtoFrame rewrites the IP protocol (or IPv6 next header) of a frame.
func ipProtoFrame(f []byte, proto byte) []byte {
	f = append([]byte(nil), f...)
	if f[12] == 0x08 {
		f[14+9] = proto
	} else {
		f[14+6] = proto
	}
	return f
}

func ip6Fragment6(f []byte) []byte {
	out := append([]byte(nil), f[:14+40]...)
	next := out[14+6]
	out[14+6] = 44
	binary.BigEndian.PutUint16(out[14+4:], binary.BigEndian.Uint16(out[14+4:])+8)
	out = append(out, next, 0, 0, 0, 0, 0, 0, 9) // offset 0, no more fragments, id 9
	return append(out, f[14+40:]...)
}

func ip6HopByHop(f []byte) []byte {
	out := append([]byte(nil), f[:14+40]...)
	next := out[14+6]
	out[14+6] = 0
	binary.BigEndian.PutUint16(out[14+4:], binary.BigEndian.Uint16(out[14+4:])+8)
	out = append(out, next, 0, 1, 4, 0, 0, 0, 0) // PadN
	return append(out, f[14+40:]...)
}

func ip4Options(f []byte) []byte {
	out := append([]byte(nil), f[:14+20]...)
	out[14] = 0x46
	binary.BigEndian.PutUint16(out[14+2:], binary.BigEndian.Uint16(out[14+2:])+4)
	out = append(out, 1, 1, 1, 0) // NOPs, end of options
	return append(out, f[14+20:]...)
}

func arpFrame(etype uint16, sender, target string) []byte {
	f := make([]byte, 14+28)
	copy(f[0:6], []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	copy(f[6:12], []byte{0x02, 0, 0, 0, 0, 0x0a})
	binary.BigEndian.PutUint16(f[12:], etype)
	a := f[14:]
	binary.BigEndian.PutUint16(a[0:], 1)
	binary.BigEndian.PutUint16(a[2:], 0x0800)
	a[4], a[5] = 6, 4
	binary.BigEndian.PutUint16(a[6:], 1)
	s, t := netip.MustParseAddr(sender).As4(), netip.MustParseAddr(target).As4()
	copy(a[8:14], f[6:12])
	copy(a[14:18], s[:])
	copy(a[24:28], t[:])
	return f
}

func vlanTag(f []byte, tpid uint16, id uint16) []byte {
	out := append([]byte(nil), f[:12]...)
	out = binary.BigEndian.AppendUint16(out, tpid)
	out = binary.BigEndian.AppendUint16(out, id)
	return append(out, f[12:]...)
}

func otherMACs(f []byte) []byte {
	f = append([]byte(nil), f...)
	copy(f[0:12], []byte{0xaa, 0xbb, 0xcc, 0, 0, 1, 0xaa, 0xbb, 0xcc, 0, 0, 2})
	return f
}

// relink turns an Ethernet frame into one of another link type; ok is
// false for frames that link cannot carry.
func relink(f []byte, lt flowkey.LinkType) (out []byte, ok bool) {
	if lt == flowkey.LinkEthernet {
		return f, true
	}
	if len(f) < 14 {
		return nil, false
	}
	etype := binary.BigEndian.Uint16(f[12:])
	if etype == 0x8100 || etype == 0x88a8 {
		return nil, false
	}
	payload := f[14:]
	isIP := etype == 0x0800 || etype == 0x86dd
	switch lt {
	case flowkey.LinkLinuxSLL:
		h := make([]byte, 16)
		binary.BigEndian.PutUint16(h[2:], 1)
		binary.BigEndian.PutUint16(h[4:], 6)
		copy(h[6:12], f[6:12])
		binary.BigEndian.PutUint16(h[14:], etype)
		return append(h, payload...), true
	case flowkey.LinkLinuxSLL2:
		h := make([]byte, 20)
		binary.BigEndian.PutUint16(h[0:], etype)
		binary.BigEndian.PutUint32(h[4:], 2)
		binary.BigEndian.PutUint16(h[8:], 1)
		h[11] = 6
		copy(h[12:18], f[6:12])
		return append(h, payload...), true
	case flowkey.LinkRaw:
		return payload, isIP
	case flowkey.LinkIPv4:
		return payload, etype == 0x0800
	case flowkey.LinkNull:
		fam := uint32(2)
		if etype == 0x86dd {
			fam = 30
		}
		return append(binary.LittleEndian.AppendUint32(nil, fam), payload...), isIP
	}
	return nil, false
}

// tcpdumpProgram compiles expr with tcpdump for link type lt.
func tcpdumpProgram(t *testing.T, tcpdump string, lt flowkey.LinkType, expr string) (*bpf.VM, error) {
	t.Helper()
	// tcpdump takes the link type from a capture file's header.
	path := filepath.Join(t.TempDir(), "lt.pcap")
	hdr := binary.LittleEndian.AppendUint32(nil, 0xa1b2c3d4)
	hdr = binary.LittleEndian.AppendUint16(hdr, 2)
	hdr = binary.LittleEndian.AppendUint16(hdr, 4)
	hdr = append(hdr, make([]byte, 8)...)
	hdr = binary.LittleEndian.AppendUint32(hdr, 65535)
	hdr = binary.LittleEndian.AppendUint32(hdr, uint32(lt))
	if err := os.WriteFile(path, hdr, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(tcpdump, "-ddd", "-r", path, expr).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return nil, errors.New(strings.TrimSpace(string(ee.Stderr)))
		}
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	n, err := strconv.Atoi(lines[0])
	if err != nil || n != len(lines)-1 {
		t.Fatalf("tcpdump -ddd %q: unexpected output %q", expr, out)
	}
	raw := make([]bpf.RawInstruction, n)
	for i, l := range lines[1:] {
		f := strings.Fields(l)
		v := make([]uint64, 4)
		for j := range v {
			v[j], _ = strconv.ParseUint(f[j], 10, 32)
		}
		raw[i] = bpf.RawInstruction{Op: uint16(v[0]), Jt: uint8(v[1]), Jf: uint8(v[2]), K: uint32(v[3])}
	}
	insts, ok := bpf.Disassemble(raw)
	if !ok {
		t.Fatalf("tcpdump -ddd %q: a program this test cannot run", expr)
	}
	vm, err := bpf.NewVM(insts)
	if err != nil {
		t.Fatalf("tcpdump -ddd %q: %v", expr, err)
	}
	return vm, nil
}

var expressions = []string{
	"", "ip", "ip6", "arp", "rarp", "tcp", "udp", "icmp", "icmp6", "sctp",
	"host 10.0.0.1", "src host 10.0.0.1", "dst host 10.0.0.2", "host 2001:db8::1",
	"src or dst host 10.0.0.2", "src and dst net 10.0.0.0/8", "ip host 10.0.0.1", "arp host 10.0.0.2",
	"rarp src host 10.9.9.9", "host 10.9.9.9", "dst 10.1.2.3", "src 2001:db8:1::5",
	"net 10.0.0.0/8", "net 10.0.0.0 mask 255.255.0.0", "net 192.168", "net 172.16.0",
	"net 2001:db8::/32", "dst net 2001:db8::/64", "net 0.0.0.0/0", "net fe80::/10",
	"port 80", "port 53", "tcp port 80", "udp port 53", "src port 40000", "dst port 80 or 443",
	"portrange 1000-2000", "tcp portrange 1000-2000", "udp dst portrange 1-1024", "port http",
	"ip6 port 80", "ip port 53", "sctp port 80", "udp port domain", "port bootps", "tcp port ntp", "port domain or port https", "src port 53 and dst port 1000",
	"vlan", "vlan 100", "vlan 100 and tcp port 80", "vlan 300 and vlan 100 and tcp", "vlan 200 and ip6",
	"vlan and udp", "tcp or vlan", "vlan 100 or udp",
	"not tcp", "tcp or udp and port 53", "not host 10.0.0.1 and 10.0.0.2", "!(udp || icmp)",
	"host 10.0.0.1 and (port 80 or port 53)", "tcp and not port 80 and not arp", "host 10.0.0.1 or 10.0.0.2 or 8.8.8.8",
	"ether host 02:00:00:00:00:0a", "ether src 02:00:00:00:00:0a", "ether dst 02:00:00:00:00:0b", "ether src aa:bb:cc:00:00:02",
	"greater 100", "less 60", "greater 1000 and udp", "ip proto 17", "ip6 proto 58", "proto 6", "ip proto 132",
}

// linkExprs are the expressions tried on links other than Ethernet: those
// without vlan or ether primitives.
func linkExprs() []string {
	var out []string
	for _, e := range expressions {
		if !strings.Contains(e, "vlan") && !strings.Contains(e, "ether") {
			out = append(out, e)
		}
	}
	return out
}

// TestAgainstTcpdump compiles every expression with tcpdump (libpcap) and
// with this package, runs both programs on every probe in the same BPF
// machine, and requires the same verdicts, for each supported link type.
func TestAgainstTcpdump(t *testing.T) {
	tcpdump, err := exec.LookPath("tcpdump")
	if err != nil {
		if os.Getenv("FLOWSCOPE_REQUIRE_TCPDUMP") != "" {
			t.Fatal("tcpdump not found, and FLOWSCOPE_REQUIRE_TCPDUMP is set")
		}
		t.Skip("tcpdump not found: install it (Debian: apt-get install tcpdump) to compare with libpcap")
	}
	links := []struct {
		lt    flowkey.LinkType
		exprs []string
	}{
		{flowkey.LinkEthernet, expressions},
		{flowkey.LinkLinuxSLL, linkExprs()},
		{flowkey.LinkLinuxSLL2, linkExprs()},
		{flowkey.LinkRaw, linkExprs()},
		{flowkey.LinkIPv4, linkExprs()},
		{flowkey.LinkNull, linkExprs()},
	}
	ps := probes()
	compared := 0
	for _, l := range links {
		for _, expr := range l.exprs {
			ref, refErr := tcpdumpProgram(t, tcpdump, l.lt, expr)
			f, err := Compile(expr, l.lt)
			if refErr != nil {
				// libpcap refuses some expressions on some links ("arp" on
				// raw IP); ours must refuse them or never match.
				if err == nil {
					for _, p := range ps {
						if data, ok := relink(p.data, l.lt); ok && f.Match(data) {
							t.Errorf("link %d, %q: tcpdump refuses it (%v) but ours matches %s", l.lt, expr, refErr, p.name)
						}
					}
				}
				continue
			}
			if err != nil {
				t.Errorf("link %d, %q: %v (tcpdump compiles it)", l.lt, expr, err)
				continue
			}
			for _, p := range ps {
				data, ok := relink(p.data, l.lt)
				if !ok {
					continue
				}
				n, err := ref.Run(data)
				want := err == nil && n > 0
				if got := f.Match(data); got != want {
					t.Errorf("link %d, %q on %s: ours %v, tcpdump %v", l.lt, expr, p.name, got, want)
				}
				compared++
			}
		}
	}
	t.Logf("%d verdicts compared", compared)
}

// TestAcceptsSomethingAndRejectsSomething keeps the probe set honest:
// most expressions must both accept and reject some probe, or the
// comparison with tcpdump says little about them.
func TestProbesSeparateExpressions(t *testing.T) {
	ps := probes()
	for _, expr := range expressions {
		if expr == "" || expr == "net 0.0.0.0/0" {
			continue
		}
		f, err := Compile(expr, flowkey.LinkEthernet)
		if err != nil {
			continue // refused, as by tcpdump (TestAgainstTcpdump)
		}
		var yes, no int
		for _, p := range ps {
			if f.Match(p.data) {
				yes++
			} else {
				no++
			}
		}
		if yes == 0 || no == 0 {
			t.Errorf("%q accepts %d and rejects %d probes: add probes that tell it apart", expr, yes, no)
		}
	}
}

func TestSemantics(t *testing.T) {
	ps := probes()
	byName := map[string][]byte{}
	for _, p := range ps {
		byName[p.name] = p.data
	}
	for _, c := range []struct {
		expr, probe string
		want        bool
	}{
		{"port 53", "udp4 later fragment to 53", false},
		{"udp", "udp4 later fragment to 53", true},
		{"port 53", "udp4 first fragment to 53", true},
		{"udp", "udp6 in a fragment header", true},
		{"port 53", "udp6 in a fragment header", false},
		{"host 10.0.0.2", "arp 10.0.0.1 asks 10.0.0.2", true},
		{"ip host 10.0.0.2", "arp 10.0.0.1 asks 10.0.0.2", false},
		{"tcp port 80", "tcp4 with IP options to 80", true},
		{"tcp port 80", "vlan 100 tcp4 to 80", false},
		{"vlan 100 and tcp port 80", "vlan 100 tcp4 to 80", true},
		{"tcp or udp and port 53", "tcp4 syn 10.0.0.1:40000>10.0.0.2:80", false}, // (tcp or udp) and port 53
		{"not host 10.0.0.1 and 10.0.0.2", "tcp4 syn 10.0.0.1:40000>10.0.0.2:80", false},
	} {
		f, err := Compile(c.expr, flowkey.LinkEthernet)
		if err != nil {
			t.Fatalf("%q: %v", c.expr, err)
		}
		if got := f.Match(byName[c.probe]); got != c.want {
			t.Errorf("%q on %s = %v, want %v", c.expr, c.probe, got, c.want)
		}
	}
}

func TestErrors(t *testing.T) {
	for _, c := range []struct{ expr, want string }{
		{"host", "at the end: expected an address"},
		{"port 99999", `at offset 5 ("99999"): port out of range`},
		{"net 10.0.0.1/8", "bits set past its length"},
		{"tcp host 10.0.0.1", "a tcp qualifier does not apply to a host"},
		{"host example.com", "names are not looked up"},
		{"host 10.0.0.1 and", "at the end: expected a primitive"},
		{"(tcp", "at the end: expected )"},
		{"tcp[13] & 2 != 0", "arithmetic"},
		{"tcp udp", `at offset 4 ("udp"): expected and, or or the end`},
		{"80", "expected a primitive"},
		{"vlan 5000", "VLAN ID out of range"},
		{"portrange 10", "written low-high"},
		{"net 10.0.0.0 mask 255.0.255.0", "not a contiguous netmask"},
		{"ip6 host 10.0.0.1", "IPv4 address with an ip6 qualifier"},
		{"ip port 53", "a ip qualifier does not apply to a port"},
		{"udp port http", `"http" is a tcp port, not udp`},
	} {
		_, err := Compile(c.expr, flowkey.LinkEthernet)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Compile(%q) = %v, want an error with %q", c.expr, err, c.want)
		}
	}
	if _, err := Compile("vlan 10", flowkey.LinkRaw); err == nil || !strings.Contains(err.Error(), "Ethernet") {
		t.Errorf("vlan on raw IP: %v", err)
	}
	if _, err := Compile("tcp", flowkey.LinkType(9999)); err == nil || !strings.Contains(err.Error(), "link type 9999") {
		t.Errorf("unknown link: %v", err)
	}
}

func TestLongProgram(t *testing.T) {
	// Enough hosts that conditional jumps cannot reach the end: the
	// program is laid out with long jumps and still matches.
	var hosts []string
	for i := range 100 {
		hosts = append(hosts, "10.7."+strconv.Itoa(i/250)+"."+strconv.Itoa(i%250+1))
	}
	hosts = append(hosts, "10.0.0.2")
	f, err := Compile("host "+strings.Join(hosts, " or "), flowkey.LinkEthernet)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Program()) < 256 {
		t.Fatalf("program of %d instructions: not long enough to test", len(f.Program()))
	}
	short, err := Compile("host 10.0.0.2", flowkey.LinkEthernet)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range probes() {
		// No probe has a 10.7 address: the verdicts are host 10.0.0.2's.
		if got, want := f.Match(p.data), short.Match(p.data); got != want {
			t.Errorf("%s: %v, want %v", p.name, got, want)
		}
	}
}

// BenchmarkMatch compares Match with x/net/bpf's machine running the
// same program, on a frame the filter accepts after most of its tests.
func BenchmarkMatch(b *testing.B) {
	f, err := Compile("host 10.0.0.2 and (tcp port 80 or udp port 53)", flowkey.LinkEthernet)
	if err != nil {
		b.Fatal(err)
	}
	pkt := pcapgen.TCP(ap("10.0.0.1:40000"), ap("10.0.0.2:80"), 1, 0, pcapgen.SYN, nil)
	b.Run("filter", func(b *testing.B) {
		for b.Loop() {
			if !f.Match(pkt) {
				b.Fatal("no match")
			}
		}
	})
	b.Run("x-net-bpf", func(b *testing.B) {
		insts, _ := bpf.Disassemble(f.Program())
		vm, err := bpf.NewVM(insts)
		if err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			if n, _ := vm.Run(pkt); n == 0 {
				b.Fatal("no match")
			}
		}
	})
}
