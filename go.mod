module github.com/flowscope-go/flowscope

go 1.26

require (
	github.com/gopacket/gopacket v1.7.7 // indirect
	golang.org/x/sync v0.25.0 // indirect
)
