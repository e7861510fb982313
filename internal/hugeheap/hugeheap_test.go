package hugeheap

import "testing"

func TestDisabled(t *testing.T) {
	for _, tc := range []struct {
		godebug string
		want    bool
	}{
		{"", false},
		{"disablethp=1", true},
		{"gctrace=1,disablethp=1", true},
		{"disablethp=1, madvdontneed=1", true},
		{"disablethp=0", false},
		{"xdisablethp=1", false},
	} {
		if got := disabled(tc.godebug); got != tc.want {
			t.Errorf("disabled(%q) = %v, want %v", tc.godebug, got, tc.want)
		}
	}
}

func TestReserveNothing(t *testing.T) {
	if got := Reserve(0); got != 0 {
		t.Errorf("Reserve(0) = %d, want 0", got)
	}
	t.Setenv("GODEBUG", "disablethp=1")
	if got := Reserve(8 << 20); got != 0 {
		t.Errorf("Reserve with GODEBUG=disablethp=1 = %d, want 0", got)
	}
}
