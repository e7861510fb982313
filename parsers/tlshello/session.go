package tlshello

import (
	"bytes"
	"slices"

	"github.com/flowscope-go/flowscope"
)

const (
	maxRecord    = 16384 + 2048 // the largest TLSCiphertext
	maxHandshake = 256 << 10    // a handshake message being reassembled
)

// Bounds on what one Handshake keeps, whatever a peer repeats: beyond
// them the record says what was cut (Handshake.Truncated).
const (
	// MaxHistory is the most ssl_history letters kept, Zeek's
	// SSL::max_ssl_history_length.
	MaxHistory = 100
	// MaxAlerts is the most alerts kept.
	MaxAlerts = 32
	// MaxCerts is the most certificates kept (fingerprints and all).
	MaxCerts = 16
	// MaxCertText bounds the text kept of the certificates (subjects,
	// issuers, SANs); a certificate beyond it keeps its fingerprint only.
	MaxCertText = 64 << 10
)

// What Handshake.Truncated says.
const (
	TruncHistory  = "ssl_history"
	TruncAlerts   = "alerts"
	TruncCerts    = "certificates"
	TruncCertText = "certificate_text"
)

type sideState struct {
	rec  []byte // bytes of records not yet whole (owned)
	hs   []byte // handshake message bytes not yet whole (owned)
	done bool   // encrypted from here on, or broken: not read further
	ccs  bool
	app  bool
}

type session struct {
	conn     *flowscope.Conn
	side     [2]sideState
	cur      *Handshake
	certText int // Certificate.textSize of cur's certificates
	out      []*Handshake
	checked  bool
	poisoned string
}

var _ flowscope.Doner = (*session)(nil)

// Done reports whether the session reads nothing more of the connection:
// it gave up on it, or both sides went encrypted (or lost their framing)
// and what marks the handshake established has been seen on each.
func (s *session) Done() bool {
	o, r := &s.side[flowscope.Orig], &s.side[flowscope.Resp]
	return s.poisoned != "" || o.done && r.done && (o.app || o.ccs) && (r.app || r.ccs)
}

// Poisoned reports whether, and why, the connection was judged not to
// start with a TLS handshake record (the session is then done).
func (s *session) Poisoned() (string, bool) { return s.poisoned, s.poisoned != "" }

// Data implements flowscope.SessionParser.
func (s *session) Data(side flowscope.Side, b []byte, ts int64, out []*Handshake) []*Handshake {
	if s.poisoned != "" {
		return out
	}
	st := &s.side[side]
	if st.done {
		if !st.app && len(b) > 0 {
			st.app = true // the first encrypted bytes: noted once
			s.noteApp(side)
		}
		return out
	}
	if !s.checked {
		// The connection must open with a handshake record from the
		// client: 22, 3, 0..4. Bytes may come one at a time.
		head := append(st.rec[:len(st.rec):len(st.rec)], b[:min(len(b), 3)]...)
		if side != flowscope.Orig || head[0] != 22 || (len(head) > 1 && head[1] != 3) || (len(head) > 2 && head[2] > 4) {
			s.poisoned = "not a TLS handshake"
			return out
		}
		if len(head) >= 3 {
			s.checked = true
		}
	}
	s.out = out
	var rest []byte
	if len(st.rec) == 0 {
		rest = s.records(side, b, ts) // whole records straight from b
	} else {
		st.rec = append(st.rec, b...)
		rest = s.records(side, st.rec, ts)
	}
	if st.done {
		// Bytes after the point where the side turned to encryption are
		// encrypted traffic, whether they came in this call or a later one.
		if len(rest) > 0 && !st.app {
			st.app = true
			s.noteApp(side)
		}
		st.rec = nil
		return s.out
	}
	if len(st.rec) == 0 || len(rest) < len(st.rec) {
		// Keep the partial record at the front; when nothing was read
		// of the buffer it is there already (copying it again made a
		// record sent a byte at a time cost its length squared).
		st.rec = append(st.rec[:0], rest...)
	}
	return s.out
}

// records processes the whole records at the start of b and returns the
// rest.
func (s *session) records(side flowscope.Side, b []byte, ts int64) []byte {
	st := &s.side[side]
	for len(b) >= 5 && !st.done {
		typ, n := b[0], int(b[3])<<8|int(b[4])
		if b[1] != 3 || n > maxRecord {
			st.done = true // not (or no longer) TLS records
			return nil
		}
		if len(b) < 5+n {
			break
		}
		body := b[5 : 5+n]
		b = b[5+n:]
		switch typ {
		case 22:
			if len(st.hs)+len(body) > maxHandshake {
				st.done = true
				return nil
			}
			st.hs = append(st.hs, body...)
			s.handshakes(side, ts)
		case 20:
			st.ccs = true
			s.history(side, 'I')
			// Before TLS 1.3 what follows a change cipher spec is
			// encrypted. TLS 1.3 clients send one for middlebox
			// compatibility, before a second ClientHello after a
			// HelloRetryRequest: keep reading while 1.3 is possible.
			if !s.tls13Possible() {
				st.done = true
			}
			s.noteEstablished()
		case 21:
			if len(body) >= 2 {
				if h := s.handshake(); len(h.Alerts) < MaxAlerts {
					h.Alerts = append(h.Alerts, uint16(body[0])<<8|uint16(body[1]))
				} else {
					h.truncate(TruncAlerts)
				}
				s.history(side, 'A')
			}
		case 23:
			st.done, st.app = true, true
			s.noteApp(side)
		default:
			st.done = true
		}
	}
	return b
}

// handshakes processes the whole handshake messages collected on a side.
func (s *session) handshakes(side flowscope.Side, ts int64) {
	st := &s.side[side]
	hs := st.hs
	for len(hs) >= 4 {
		typ, n := hs[0], int(hs[1])<<16|int(hs[2])<<8|int(hs[3])
		if n > maxHandshake {
			st.done = true
			break
		}
		if len(hs) < 4+n {
			break
		}
		s.message(side, typ, hs[4:4+n], ts)
		hs = hs[4+n:]
	}
	if len(hs) < len(st.hs) { // messages were read: keep the rest at the front
		st.hs = append(st.hs[:0], hs...)
	}
}

// tls13Possible reports whether the handshake may still be TLS 1.3: the
// client offered it and no server hello chose an earlier version.
func (s *session) tls13Possible() bool {
	h := s.cur
	if h == nil || h.Client == nil {
		return false
	}
	if h.Server != nil && !h.Server.HRR {
		return h.Server.Selected == 0x0304
	}
	return slices.Contains(h.Client.Versions, 0x0304)
}

func (s *session) handshake() *Handshake {
	if s.cur == nil {
		s.cur = &Handshake{Conn: s.conn}
	}
	return s.cur
}

func (s *session) message(side flowscope.Side, typ byte, body []byte, ts int64) {
	switch {
	case typ == 1 && side == flowscope.Orig:
		ch, _ := parseClientHello(body, ts)
		if s.cur != nil && s.cur.Client != nil {
			s.emit() // a HelloRetryRequest's second hello, or a renegotiation
		}
		s.handshake().Client = ch
		s.history(side, 'C')
	case typ == 2 && side == flowscope.Resp:
		sh, _ := parseServerHello(body, ts)
		h := s.handshake()
		if h.Server != nil {
			s.emit()
			h = s.handshake()
		}
		h.Server = sh
		if sh.HRR {
			s.history(side, 'H')
		} else {
			s.history(side, 'S')
		}
		if c := h.Client; c != nil {
			switch {
			case len(sh.SessionID) > 0 && bytes.Equal(sh.SessionID, c.SessionID) && sh.Selected == 0:
				h.Resumed = true
			case sh.Selected == 0x0304:
				for _, e := range sh.Extensions {
					if e == 41 {
						h.Resumed = true
					}
				}
			}
		}
		if sh.Selected == 0x0304 && !sh.HRR {
			// Everything the server sends from here on is encrypted (after
			// a HelloRetryRequest, the real ServerHello is still to come).
			s.side[flowscope.Resp].done = true
		}
	case typ == 11 && side == flowscope.Resp:
		s.certificates(body)
		s.history(side, 'X')
	case typ == 12 && side == flowscope.Resp:
		s.history(side, 'K')
	case typ == 14 && side == flowscope.Resp:
		s.history(side, 'D')
	case typ == 16 && side == flowscope.Orig:
		s.history(side, 'G')
	}
}

func (s *session) certificates(body []byte) {
	r := reader{b: body}
	if len(r.b) < 3 {
		return
	}
	total := int(r.b[0])<<16 | int(r.b[1])<<8 | int(r.b[2])
	r.b = r.b[3:]
	list := reader{b: r.bytes(total)}
	for len(list.b) >= 3 && !list.bad {
		n := int(list.b[0])<<16 | int(list.b[1])<<8 | int(list.b[2])
		list.b = list.b[3:]
		der := list.bytes(n)
		if list.bad {
			break
		}
		h := s.handshake()
		if len(h.Certs) >= MaxCerts {
			h.truncate(TruncCerts)
			break
		}
		c := certificate(der)
		if s.certText+c.textSize() > MaxCertText {
			h.truncate(TruncCertText)
			c = Certificate{SHA256: c.SHA256, Err: "not kept: the handshake's certificate text passed its bound"}
		}
		s.certText += c.textSize()
		h.Certs = append(h.Certs, c)
	}
}

// history appends a letter (given upper case) in the side's case: upper
// for the client, lower for the server, as Zeek's ssl_history does.
func (s *session) history(side flowscope.Side, c byte) {
	if side == flowscope.Resp {
		c += 'a' - 'A'
	}
	h := s.handshake()
	if len(h.History) >= MaxHistory {
		h.truncate(TruncHistory)
		return
	}
	h.History += string(c)
}

func (s *session) noteApp(flowscope.Side) {
	if s.cur != nil {
		s.noteEstablished()
	}
}

func (s *session) noteEstablished() {
	o, r := &s.side[flowscope.Orig], &s.side[flowscope.Resp]
	if s.cur != nil && s.cur.Server != nil && (o.app || o.ccs) && (r.app || r.ccs) {
		s.cur.Established = true
	}
}

func (s *session) emit() {
	if s.cur != nil && (s.cur.Client != nil || s.cur.Server != nil) {
		s.out = append(s.out, s.cur)
	}
	s.cur, s.certText = nil, 0
}

// Gap implements flowscope.SessionParser: the side's record framing is
// lost, so it is not read further.
func (s *session) Gap(side flowscope.Side, _ uint64, _ int64, out []*Handshake) []*Handshake {
	st := &s.side[side]
	st.done, st.rec, st.hs = true, nil, nil
	return out
}

// End implements flowscope.SessionParser: the handshake in progress is
// emitted.
func (s *session) End(_ *flowscope.FlowRecord, out []*Handshake) []*Handshake {
	s.out = out
	s.emit()
	return s.out
}

// truncate notes, once, that the handshake dropped some of what.
func (h *Handshake) truncate(what string) {
	if !slices.Contains(h.Truncated, what) {
		h.Truncated = append(h.Truncated, what)
	}
}

// Held implements flowscope.Holder: the partial records and handshake
// messages buffered, and the certificates' text kept.
func (s *session) Held() int {
	return cap(s.side[0].rec) + cap(s.side[0].hs) + cap(s.side[1].rec) + cap(s.side[1].hs) + s.certText
}

var _ flowscope.Holder = (*session)(nil)
