package main

import (
	"bytes"
	"strings"

	"github.com/flowscope-go/flowscope"
)

// SMTPParser finds SMTP by content, whatever the port: a client that
// opens with EHLO or HELO, or a server that opens with a 220 greeting.
// It makes one record a mail transaction, after Zeek's smtp.log: the
// HELO name, the envelope sender and recipients, the size of the
// message and the server's last reply. It is a flowscope.SessionFactory.
type SMTPParser struct{}

// Mail is one mail transaction on an SMTP connection.
type Mail struct {
	Conn      *flowscope.Conn
	Time      int64 // the MAIL command's
	Depth     int
	Helo      string
	From      string
	To        []string
	Size      uint64 // bytes of the message, as sent after DATA
	LastReply string
	StartTLS  bool // the client asked for STARTTLS
	Partial   bool // the connection ended, or lost bytes, in the middle
}

var mailSchema = flowscope.ConnSchema("smtp",
	flowscope.Field{Name: "trans_depth", Type: flowscope.TypeCount},
	flowscope.Field{Name: "helo", Type: flowscope.TypeString},
	flowscope.Field{Name: "mailfrom", Type: flowscope.TypeString},
	flowscope.Field{Name: "rcptto", Type: flowscope.SetOf(flowscope.TypeString)},
	flowscope.Field{Name: "msg_size", Type: flowscope.TypeCount},
	flowscope.Field{Name: "last_reply", Type: flowscope.TypeString},
	flowscope.Field{Name: "starttls", Type: flowscope.TypeBool},
	flowscope.Field{Name: "partial", Type: flowscope.TypeBool},
)

// Schema returns the smtp record's schema.
func (m *Mail) Schema() *flowscope.Schema { return mailSchema }

// AppendValues appends the record's values in the schema's order.
func (m *Mail) AppendValues(vs []flowscope.Value) []flowscope.Value {
	vs = m.Conn.AppendValues(vs, m.Time)
	str := func(s string) flowscope.Value {
		if s == "" {
			return flowscope.Value{}
		}
		return flowscope.StringValue(s)
	}
	return append(vs, flowscope.CountValue(uint64(m.Depth)), str(m.Helo), str(m.From),
		flowscope.StringsValue(flowscope.SetOf(flowscope.TypeString), m.To), flowscope.CountValue(m.Size),
		str(m.LastReply), flowscope.BoolValue(m.StartTLS), flowscope.BoolValue(m.Partial))
}

// NewSession returns the parser of one connection.
func (SMTPParser) NewSession(c *flowscope.Conn) flowscope.SessionParser[*Mail] {
	return &smtpSession{conn: c}
}

// maxLine bounds a command or reply line; a longer one is not SMTP.
const maxLine = 4096

type smtpSession struct {
	conn     *flowscope.Conn
	line     [2][]byte // a partial line per side (owned)
	started  [2]bool   // the side's first line was seen
	skip     [2]bool   // bytes were lost: the side's line in progress is dropped
	done     bool      // not SMTP: nothing more is read
	helo     string
	starttls bool
	inData   bool // the client is sending a message
	dataEnd  bool // the message ended; the next reply closes the transaction
	cur      *Mail
	depth    int
}

func (s *smtpSession) Done() bool { return s.done }

func (s *smtpSession) Data(side flowscope.Side, b []byte, ts int64, out []*Mail) []*Mail {
	if s.skip[side] { // resume at the next line
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			return out
		}
		b, s.skip[side] = b[i+1:], false
	}
	for len(b) > 0 && !s.done {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			if s.line[side] = append(s.line[side], b...); len(s.line[side]) > maxLine {
				s.done = true
			}
			return out
		}
		line := b[:i]
		if len(s.line[side]) > 0 {
			line = append(s.line[side], line...) // b is borrowed: the partial line was copied
		}
		b = b[i+1:]
		out = s.lineOf(side, string(bytes.TrimRight(line, "\r")), ts, out)
		s.line[side] = s.line[side][:0]
	}
	return out
}

// lineOf takes one whole line of a side.
func (s *smtpSession) lineOf(side flowscope.Side, line string, ts int64, out []*Mail) []*Mail {
	if !s.started[side] {
		s.started[side] = true
		verb := strings.ToUpper(strings.SplitN(line, " ", 2)[0])
		if side == flowscope.Orig && verb != "EHLO" && verb != "HELO" || side == flowscope.Resp && !strings.HasPrefix(line, "220") {
			s.done = true // not SMTP
			return out
		}
	}
	if side == flowscope.Resp {
		if len(line) >= 3 && (len(line) == 3 || line[3] == ' ') && s.cur != nil { // the last line of a reply
			s.cur.LastReply = line
			if s.dataEnd {
				out, s.cur, s.dataEnd = append(out, s.cur), nil, false
			}
		}
		return out
	}
	if s.inData {
		if line == "." {
			s.inData, s.dataEnd = false, true
		} else if s.cur != nil {
			s.cur.Size += uint64(len(line)) + 2
		}
		return out
	}
	verb, arg, _ := strings.Cut(line, " ")
	switch strings.ToUpper(verb) {
	case "EHLO", "HELO":
		s.helo = arg
	case "STARTTLS":
		s.starttls = true
	case "MAIL":
		if s.cur != nil {
			out = append(out, s.cur)
		}
		s.depth++
		s.cur = &Mail{Conn: s.conn, Time: ts, Depth: s.depth, Helo: s.helo, StartTLS: s.starttls, From: address(arg)}
	case "RCPT":
		if s.cur != nil {
			s.cur.To = append(s.cur.To, address(arg))
		}
	case "DATA":
		s.inData = s.cur != nil
	}
	return out
}

// address returns the <...> of a MAIL FROM: or RCPT TO: argument.
func address(arg string) string {
	if i := strings.IndexByte(arg, '<'); i >= 0 {
		if j := strings.IndexByte(arg[i:], '>'); j > 0 {
			return arg[i+1 : i+j]
		}
	}
	return arg
}

// Gap drops the side's line in progress, and the rest of it: parsing
// resumes at the next line. The transaction in progress is marked.
func (s *smtpSession) Gap(side flowscope.Side, _ uint64, _ int64, out []*Mail) []*Mail {
	s.line[side], s.skip[side] = s.line[side][:0], true
	s.started[side] = true // its first line is lost: it cannot be judged by it
	if s.cur != nil {
		s.cur.Partial = true
	}
	return out
}

func (s *smtpSession) End(_ *flowscope.FlowRecord, out []*Mail) []*Mail {
	if s.cur != nil { // the connection ended in the middle of a transaction
		s.cur.Partial = true
		out, s.cur = append(out, s.cur), nil
	}
	return out
}
