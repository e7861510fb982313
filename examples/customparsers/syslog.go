package main

import (
	"bytes"
	"strconv"

	"github.com/flowscope-go/flowscope"
)

// SyslogParser finds syslog over UDP by content, whatever the port: a
// flow whose first datagram opens with a priority, <0> to <191>. It makes
// one record a message, after Zeek's syslog.log. It is a
// flowscope.DatagramFactory.
type SyslogParser struct{}

// Syslog is one syslog message.
type Syslog struct {
	Conn     *flowscope.Conn
	Time     int64
	Facility int
	Severity int
	Message  string
}

var syslogSchema = flowscope.ConnSchema("syslog",
	flowscope.Field{Name: "proto", Type: flowscope.TypeEnum},
	flowscope.Field{Name: "facility", Type: flowscope.TypeEnum},
	flowscope.Field{Name: "severity", Type: flowscope.TypeEnum},
	flowscope.Field{Name: "message", Type: flowscope.TypeString},
)

var facilities = [...]string{"KERN", "USER", "MAIL", "DAEMON", "AUTH", "SYSLOG", "LPR", "NEWS", "UUCP", "CRON",
	"AUTHPRIV", "FTP", "NTP", "AUDIT", "ALERT", "CLOCK", "LOCAL0", "LOCAL1", "LOCAL2", "LOCAL3", "LOCAL4", "LOCAL5", "LOCAL6", "LOCAL7"}
var severities = [...]string{"EMERG", "ALERT", "CRIT", "ERR", "WARNING", "NOTICE", "INFO", "DEBUG"}

// Schema returns the syslog record's schema.
func (m *Syslog) Schema() *flowscope.Schema { return syslogSchema }

// AppendValues appends the record's values in the schema's order.
func (m *Syslog) AppendValues(vs []flowscope.Value) []flowscope.Value {
	vs = m.Conn.AppendValues(vs, m.Time)
	return append(vs, flowscope.EnumValue("udp"), flowscope.EnumValue(facilities[m.Facility]),
		flowscope.EnumValue(severities[m.Severity]), flowscope.StringValue(m.Message))
}

// NewDatagram returns the parser of one UDP flow.
func (SyslogParser) NewDatagram(c *flowscope.Conn) flowscope.DatagramParser[*Syslog] {
	return &syslogFlow{conn: c}
}

type syslogFlow struct {
	conn    *flowscope.Conn
	checked bool
	done    bool // not syslog
}

func (f *syslogFlow) Done() bool { return f.done }

func (f *syslogFlow) Datagram(_ flowscope.Side, b []byte, ts int64, out []*Syslog) []*Syslog {
	pri, rest, ok := priority(b)
	if !ok {
		f.done = !f.checked // the first datagram decides; later odd ones are skipped
		return out
	}
	f.checked = true
	msg := string(bytes.TrimRight(rest, "\r\n\x00")) // b is borrowed: string copies
	return append(out, &Syslog{Conn: f.conn, Time: ts, Facility: pri / 8, Severity: pri % 8, Message: msg})
}

// priority reads the <PRI> a syslog message starts with.
func priority(b []byte) (pri int, rest []byte, ok bool) {
	end := bytes.IndexByte(b, '>')
	if len(b) < 3 || b[0] != '<' || end < 2 || end > 4 {
		return 0, nil, false
	}
	pri, err := strconv.Atoi(string(b[1:end]))
	if err != nil || pri < 0 || pri > 191 {
		return 0, nil, false
	}
	return pri, b[end+1:], true
}

func (f *syslogFlow) End(_ *flowscope.FlowRecord, out []*Syslog) []*Syslog { return out }
