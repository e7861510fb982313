package flowscope

import (
	"crypto/sha1"
	"encoding/binary"
	"time"

	"github.com/flowscope-go/flowscope/flowkey"
)

// Endpoint is one end of a flow as seen in its first packet.
type Endpoint struct {
	Addr flowkey.Addr
	// Port is the transport port; for ICMP the originator's is the message
	// type and the responder's the code, as Zeek logs them.
	Port uint16
	MAC  [6]byte
}

// SideStats counts what one side of a flow sent.
type SideStats struct {
	// Packets is the number of packets.
	Packets uint64
	// IPBytes sums the IP length of each packet (IPv4 total length, IPv6
	// payload length + 40), as Zeek's orig_ip_bytes does.
	IPBytes uint64
	// PayloadBytes sums transport payload lengths, retransmissions included.
	PayloadBytes uint64
	// Bytes is Zeek's orig_bytes/resp_bytes: for TCP the extent of the
	// sequence space the side used (data acknowledged but not captured
	// included, retransmissions counted once); otherwise PayloadBytes.
	Bytes uint64
}

// StreamStats counts what stream reassembly did with one side of a TCP
// connection. It is filled when the tracker reassembles TCP streams
// (a Driver always does); zero otherwise.
type StreamStats struct {
	// Bytes were delivered in order; GapBytes were declared missing.
	Bytes, GapBytes uint64
	// Duplicates counts segments (or buffered pieces) whose bytes had all
	// been seen; Overlaps, segments that overlapped seen bytes in part;
	// Inconsistent, segments whose bytes differed from those seen before:
	// from buffered bytes always, from delivered bytes when
	// Config.CompareRetransmissions keeps them.
	Duplicates, Overlaps, Inconsistent uint64
	// PeakBuffered is the most out-of-order memory held at once.
	PeakBuffered uint64
	// Unordered counts chunks passed to the session parsers before the
	// other side's bytes they acknowledge, because the memory the
	// causal orderer may hold (1 MiB a connection, and the reassembly
	// budget it shares) ran out.
	Unordered uint64
}

// EndReason says why a flow ended.
type EndReason uint8

const (
	// NotEnded marks a record of a flow that is still open.
	NotEnded EndReason = iota
	// EndFIN: both sides sent FIN and the close linger passed.
	EndFIN
	// EndRST: a side sent RST and the close linger passed.
	EndRST
	// EndIdle: no packet for longer than the flow's idle timeout.
	EndIdle
	// EndEvicted: the flow table was full and this flow was the least
	// recently seen.
	EndEvicted
	// EndOfInput: the input ended with the flow still open.
	EndOfInput
	// EndShutdown: the run was stopped with the flow still open.
	EndShutdown
)

var endReasonNames = [...]string{"", "fin", "rst", "idle_timeout", "evicted", "end_of_input", "shutdown"}

// String returns the reason as logged in end_reason.
func (r EndReason) String() string {
	if int(r) < len(endReasonNames) {
		return endReasonNames[r]
	}
	return "unknown"
}

// ConnState is Zeek's summary of a connection's TCP state (conn_state).
type ConnState uint8

// The Zeek connection states; see Zeek's conn.log documentation.
const (
	StateOTH    ConnState = iota // no SYN seen, midstream traffic
	StateS0                      // attempt seen, no reply
	StateS1                      // established, not terminated
	StateSF                      // normal establishment and termination
	StateREJ                     // attempt rejected
	StateS2                      // established, originator closed, no reply
	StateS3                      // established, responder closed, no reply
	StateRSTO                    // established, originator aborted
	StateRSTR                    // responder sent RST
	StateRSTOS0                  // originator SYN then RST, no SYN-ACK seen
	StateRSTRH                   // responder SYN-ACK then RST, no SYN seen
	StateSH                      // originator SYN then FIN, no SYN-ACK seen
	StateSHR                     // responder SYN-ACK then FIN, no SYN seen
)

var connStateNames = [...]string{"OTH", "S0", "S1", "SF", "REJ", "S2", "S3", "RSTO", "RSTR", "RSTOS0", "RSTRH", "SH", "SHR"}

func (s ConnState) String() string {
	if int(s) < len(connStateNames) {
		return connStateNames[s]
	}
	return "OTH"
}

// History is Zeek's connection history: one letter per notable event,
// upper case for the originator and lower case for the responder. It
// keeps up to maxHistory letters in 16 bytes, 5 bits a letter.
type History struct {
	w [2]uint64
}

// maxHistory bounds the history letters kept: once-per-side letters are
// at most 14, and repeating ones (retransmissions, zero windows, gaps)
// are logged at 1, 10, 100... occurrences, so real flows stay below it
// (13 letters at most on the 106,000 flows of the benchmark workload,
// which has loss and retransmissions); letters beyond it are dropped.
const maxHistory = 24

// historyLetters are the letters a History can hold; a letter's code is
// its index + 1 (0 ends the history).
const historyLetters = "SHADFRTWQGIC^shadfrtwqgic"

var historyCode = func() (t [256]uint8) {
	for i := range len(historyLetters) {
		t[historyLetters[i]] = uint8(i + 1)
	}
	return t
}()

const lettersPerWord = 12

func (h *History) code(i int) uint64 { return h.w[i/lettersPerWord] >> (5 * (i % lettersPerWord)) & 31 }

func (h *History) add(c byte) {
	n := h.Len()
	code := historyCode[c]
	if n == maxHistory || code == 0 {
		return
	}
	h.w[n/lettersPerWord] |= uint64(code) << (5 * (n % lettersPerWord))
}

// insert puts letter c at position i (at most Len), moving those from i
// on one place later; the last is dropped if the history is full.
func (h *History) insert(i int, c byte) {
	n := h.Len()
	code := historyCode[c]
	if code == 0 || i > n || i >= maxHistory {
		return
	}
	var codes [maxHistory + 1]uint64
	for k := range n {
		codes[k] = h.code(k)
	}
	copy(codes[i+1:], codes[i:n])
	codes[i] = uint64(code)
	*h = History{}
	for k := range min(n+1, maxHistory) {
		h.w[k/lettersPerWord] |= codes[k] << (5 * (k % lettersPerWord))
	}
}

// AppendTo appends the history letters to b.
func (h *History) AppendTo(b []byte) []byte {
	for i := range maxHistory {
		c := h.code(i)
		if c == 0 {
			break
		}
		b = append(b, historyLetters[c-1])
	}
	return b
}

// String returns the history letters.
func (h History) String() string {
	var buf [maxHistory]byte
	return string(h.AppendTo(buf[:0]))
}

// HistoryOf returns the history of letters, in order, leaving out those
// a History cannot hold: for building records by hand, in a parser's
// tests say.
func HistoryOf(letters string) History {
	var h History
	for i := range len(letters) {
		h.add(letters[i])
	}
	return h
}

// At returns the letter at index i (from 0), or 0 when there are fewer.
func (h *History) At(i int) byte {
	if i < 0 || i >= maxHistory {
		return 0
	}
	if c := h.code(i); c != 0 {
		return historyLetters[c-1]
	}
	return 0
}

// Len returns the number of letters.
func (h *History) Len() int {
	n := 0
	for n < maxHistory && h.code(n) != 0 {
		n++
	}
	return n
}

// FlowRecord is the state of one bidirectional flow: who talked to whom,
// how much, and how it went. Records are values and own no borrowed bytes.
type FlowRecord struct {
	// First and Last are the timestamps of the first and last packets,
	// in Unix nanoseconds.
	First, Last int64
	// Stats is indexed by Side.
	Stats [2]SideStats
	// Proto is the IP protocol number.
	Proto uint8
	// IPVersion is 4 or 6, 0 for non-IP flows (MAC pair keys).
	IPVersion uint8
	// VLAN is the outermost VLAN ID of the first packet, 0 when untagged.
	VLAN uint16
	// State is Zeek's conn_state (meaningful for TCP and UDP).
	State ConnState
	// Reason says why the flow ended; NotEnded on start events.
	Reason EndReason
	// Orig and Resp are the endpoints.
	Orig, Resp Endpoint
	// History is Zeek's history string.
	History History
	// MissedBytes counts bytes known to be missing from the TCP streams
	// (the sum of both sides' Streams[].GapBytes), as stream reassembly
	// found them.
	MissedBytes uint64
	// Streams is indexed by Side; see StreamStats.
	Streams [2]StreamStats
	// TunnelParent is the uid of the UDP tunnel (VXLAN, Geneve, GTP-U)
	// the flow's first packet came through; zero when none.
	TunnelParent [18]byte
}

// Duration returns the time between the first and last packets.
func (r *FlowRecord) Duration() time.Duration { return time.Duration(r.Last - r.First) }

// AppendCommunityID appends the flow's Community ID v1 (seed 0, base64)
// to b, or nothing for non-IP flows.
func (r *FlowRecord) AppendCommunityID(b []byte) []byte {
	if r.IPVersion == 0 {
		return b
	}
	return flowkey.CommunityID{}.AppendTo(b, r.Proto, r.Orig.Addr, r.Resp.Addr, r.Orig.Port, r.Resp.Port)
}

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// AppendUID appends the flow's uid to b: "C" and 17 base62 digits, in the
// style of Zeek's uids. It is derived from the endpoints, protocol and
// first timestamp, not drawn at random, so the same capture always gives
// the same uids, whatever the number of workers.
func (r *FlowRecord) AppendUID(b []byte) []byte {
	var in [16 + 16 + 2 + 2 + 1 + 8 + 12]byte
	p := in[:0]
	p = append(p, r.Orig.Addr[:]...)
	p = append(p, r.Resp.Addr[:]...)
	p = binary.BigEndian.AppendUint16(p, r.Orig.Port)
	p = binary.BigEndian.AppendUint16(p, r.Resp.Port)
	p = append(p, r.Proto)
	p = binary.BigEndian.AppendUint64(p, uint64(r.First))
	p = append(p, r.Orig.MAC[:]...)
	p = append(p, r.Resp.MAC[:]...)
	sum := sha1.Sum(p)
	hi := binary.BigEndian.Uint64(sum[0:8])
	lo := uint64(binary.BigEndian.Uint32(sum[8:12]))
	b = append(b, 'C')
	b = appendBase62(b, hi, 11)
	return appendBase62(b, lo, 6)
}

// UID returns the flow's uid; see AppendUID.
func (r *FlowRecord) UID() string {
	var buf [18]byte
	return string(r.AppendUID(buf[:0]))
}

func appendBase62(b []byte, v uint64, width int) []byte {
	var d [11]byte
	for i := width - 1; i >= 0; i-- {
		d[i] = base62[v%62]
		v /= 62
	}
	return append(b, d[:width]...)
}
