package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestRun runs the program on the embedded sample: both sinks get the
// records, the JSON one every kind, the summary the HTTP transactions.
func TestRun(t *testing.T) {
	var records, summary bytes.Buffer
	if err := run(context.Background(), "", &records, &summary); err != nil {
		t.Fatal(err)
	}
	for _, kind := range []string{"conn", "http", "dns"} {
		if !strings.Contains(records.String(), `"_path":"`+kind+`"`) {
			t.Errorf("no %s record in the JSON output", kind)
		}
	}
	want := "58 packets, 8 flows\n" +
		"     3  127.0.0.1:8080 200\n" +
		"     1  127.0.0.1:8080 404\n" +
		"     1  [::1]:8080 200\n"
	if got := summary.String(); got != want {
		t.Errorf("summary:\n%s\nwant\n%s", got, want)
	}
}
