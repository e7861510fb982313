package flowscope

import "testing"

// TestSideStatePacking checks top and acked through the packed fields:
// both round-trip across 32-bit boundaries, acked may lead top by up to
// 2^30, and is raised to stay less than 2^31 behind when a side sends
// on with no acknowledgement seen.
func TestSideStatePacking(t *testing.T) {
	var st sideState
	st.isn = 0xfffffff0 // the sequence space wraps soon after the start
	start := st.start()
	st.setTop(start)
	st.setAcked(start)
	if st.top() != start || st.acked() != start {
		t.Fatalf("top %#x acked %#x, want both %#x", st.top(), st.acked(), start)
	}
	steps := []struct {
		top, acked uint64 // what to set (0: leave it)
		wantAcked  uint64
		wantTop    uint64
	}{
		{top: start + 100, wantTop: start + 100, wantAcked: start},
		{acked: start + 50, wantTop: start + 100, wantAcked: start + 50},
		{acked: start + 100 + 1<<30, wantTop: start + 100, wantAcked: start + 100 + 1<<30},
		{top: start + 1<<31, wantTop: start + 1<<31, wantAcked: start + 100 + 1<<30},
		// 5 GiB sent, the last acknowledgement 2^30+100 in: acked is
		// raised to 2^31-1 behind top.
		{top: start + 5<<30, wantTop: start + 5<<30, wantAcked: start + 5<<30 - (1<<31 - 1)},
		{acked: start + 5<<30 - 10, wantTop: start + 5<<30, wantAcked: start + 5<<30 - 10},
	}
	for i, s := range steps {
		if s.top != 0 {
			st.setTop(s.top)
		}
		if s.acked != 0 {
			st.setAcked(s.acked)
		}
		if st.top() != s.wantTop || st.acked() != s.wantAcked {
			t.Errorf("step %d: top %#x acked %#x, want %#x %#x", i, st.top(), st.acked(), s.wantTop, s.wantAcked)
		}
	}
	if n := st.size(); n != 0 { // haveSeq is unset
		t.Errorf("size without a sequence seen: %d", n)
	}
	st.haveSeq = true
	if n := st.size(); n != 5<<30-1 {
		t.Errorf("size %d, want %d (top - start - the SYN)", n, uint64(5<<30-1))
	}
}
