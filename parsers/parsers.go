// Package parsers gathers the protocol parsers that come with flowscope,
// ready for a Driver: HTTP/1.x (package http1), TLS handshakes
// (tlshello) and DNS over UDP and TCP (dnsmsg). Each finds its protocol
// by content, on any port, and gives up on flows that are not of it, so
// a set of them runs on every flow with no port table. Add a parser of
// your own beside them:
//
//	cfg := flowscope.Config{Parsers: append(parsers.All(), flowscope.Session(smtp.Parser{}))}
//
// The packages under parsers/ are the parsers themselves, and
// parsertest the kit that checks a session parser keeps the contract.
package parsers

import (
	"fmt"
	"strings"

	"github.com/flowscope-go/flowscope"
	"github.com/flowscope-go/flowscope/parsers/dnsmsg"
	"github.com/flowscope-go/flowscope/parsers/http1"
	"github.com/flowscope-go/flowscope/parsers/tlshello"
)

// Names returns the names of the built-in parsers, as ByName takes them:
// "http", "dns" and "tls".
func Names() []string { return []string{"http", "dns", "tls"} }

// All returns every built-in parser: ByName(Names()...).
func All() []flowscope.Parser {
	ps, _ := ByName(Names()...)
	return ps
}

// ByName returns the built-in parsers named: "http" (HTTP/1.x), "tls"
// (TLS handshakes), "dns" (DNS over UDP and over TCP), in that order
// whatever the order of names, each once. Names are matched without
// regard to case or surrounding space; an unknown one is an error.
func ByName(names ...string) ([]flowscope.Parser, error) {
	on := map[string]bool{}
	for _, n := range names {
		n = strings.ToLower(strings.TrimSpace(n))
		switch n {
		case "http", "dns", "tls":
			on[n] = true
		default:
			return nil, fmt.Errorf("unknown protocol %q (known: %s)", n, strings.Join(Names(), ", "))
		}
	}
	var ps []flowscope.Parser
	if on["http"] {
		ps = append(ps, flowscope.Session(http1.Parser{}))
	}
	if on["tls"] {
		ps = append(ps, flowscope.Session(tlshello.Parser{}))
	}
	if on["dns"] {
		ps = append(ps, flowscope.Session(dnsmsg.Parser{}), flowscope.Datagram(dnsmsg.Parser{}))
	}
	return ps, nil
}
