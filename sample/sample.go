// Package sample embeds a small capture of real traffic, for trying
// flowscope without a capture of one's own: HTTP (IPv4 and IPv6,
// keep-alive, a 404, a POST) and DNS (UDP and TCP, an NXDOMAIN) between
// nginx, dnsmasq, curl and dig on loopback, recorded by
// testdata/record-loopback.sh. The flowscope command analyses it when it
// is given no input, and the examples when they are given no capture.
package sample

import (
	"bytes"
	_ "embed"

	"github.com/flowscope-go/flowscope/source"
)

// Name is the file name of the embedded capture.
const Name = "loopback-http-dns.pcap"

// Capture is the pcap file's bytes.
//
//go:embed loopback-http-dns.pcap
var Capture []byte

// Open returns the embedded capture as a source.
func Open() (*source.Files, error) {
	return source.NewReader(Name, bytes.NewReader(Capture))
}
