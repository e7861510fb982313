// Package sample embeds the capture that the flowscope command analyses
// when it is given no input: real HTTP (IPv4 and IPv6, keep-alive, a 404,
// a POST) and DNS (UDP and TCP, an NXDOMAIN) between nginx, dnsmasq, curl
// and dig on loopback, recorded by testdata/record-loopback.sh.
package sample

import _ "embed"

// Name is the file name of the embedded capture.
const Name = "loopback-http-dns.pcap"

// Capture is the pcap file's bytes.
//
//go:embed loopback-http-dns.pcap
var Capture []byte
