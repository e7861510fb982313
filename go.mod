module github.com/flowscope-go/flowscope

go 1.26.0

require (
	github.com/gopacket/gopacket v1.7.7
	github.com/miekg/dns v1.1.73
	golang.org/x/net v0.57.0
	golang.org/x/sync v0.25.0
)

require golang.org/x/sys v0.47.0
