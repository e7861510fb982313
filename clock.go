package flowscope

import "time"

// Time in the tracker. A capture's timestamps can be anything: before
// 1970, past 2106 (where pcap's 32-bit seconds wrap) or 2262 (where
// int64 nanoseconds end), jumping back and forth by years, or reordered
// by a few milliseconds across the queues of a capture card. Records
// keep the packets' own times (a flow's First is its first packet's
// time, its Last the latest of its packets' times), but the timers run
// on a clock of the tracker's own, which only moves forward:
//
//   - A packet later than the one before moves the clock on by the
//     difference, but by at most maxStep (the longest timeout and two
//     scan intervals): a jump of years ends every open flow as idle, as
//     a jump of an hour would, and costs no more.
//   - A packet earlier than the latest leaves the clock where it is and
//     counts as seen now (Stats.TimeBackwards). A step back of more than
//     clockStepBack is a change of the capture's clock (a wrap, a host
//     whose clock was set back, files of two hosts read as one): later
//     packets move the clock on from the new time (Stats.TimeSteps, with
//     the jumps forward that were cut to maxStep).
//
// The clock counts nanoseconds in an int64 that may wrap; it is only
// ever compared by difference, which wrapping keeps right. Flows are
// stamped in ticks of 2^30 ns (about a second) in a uint32, compared by
// serial-number difference: a stamp is never further behind the clock
// than a timeout (clamped to maxTimeout), because every step of the
// clock is followed by a scan that ends the flows idle by then.

// clockStepBack is the step back in packet time beyond which the clock
// follows the packets from their new time.
const clockStepBack = int64(10 * time.Second)

// maxTimeout bounds the configurable timeouts, so that stamps compare
// right (2^31 ticks is 73 years).
const maxTimeout = int64(10 * 365 * 24 * time.Hour)

// tickShift is the size of a stamp tick, in bits of nanoseconds.
const tickShift = 30

// tick accounts a packet time (or a live source's wall time) ts on the
// clock.
func (t *tracker[K]) tick(ts int64) {
	if !t.clockSet {
		t.clockSet, t.lastTS = true, ts
		t.nextScan = t.now + scanInterval
		return
	}
	if ts >= t.lastTS {
		d := uint64(ts) - uint64(t.lastTS) // exact, even across the whole int64 range
		if d > uint64(t.maxStep) {
			d = uint64(t.maxStep)
			t.stats.TimeSteps++
		}
		t.now += int64(d)
		t.lastTS = ts
		return
	}
	t.stats.TimeBackwards++
	if uint64(t.lastTS)-uint64(ts) > uint64(clockStepBack) {
		t.lastTS = ts
		t.stats.TimeSteps++
	}
}

// ceilTicks returns clock time c as a stamp, rounded up to a tick.
func ceilTicks(c int64) uint32 {
	return uint32((uint64(c) + 1<<tickShift - 1) >> tickShift)
}

// sinceStamp returns how long before clock time c stamp s was, in
// nanoseconds; negative when s is later than c.
func sinceStamp(c int64, s uint32) int64 {
	u := uint64(c)
	dt := int32(uint32(u>>tickShift) - s)
	return int64(dt)<<tickShift + int64(u&(1<<tickShift-1))
}

// elapsed returns a-b, saturated to the int64 range: packet times may lie
// further apart than an int64 difference holds.
func elapsed(a, b int64) int64 {
	d := a - b
	if (a >= b) != (d >= 0) {
		if a >= b {
			return 1<<63 - 1
		}
		return -1 << 63
	}
	return d
}
