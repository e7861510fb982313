package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/flowscope-go/flowscope"
	"github.com/flowscope-go/flowscope/parsers/parsertest"
	"github.com/flowscope-go/flowscope/recordtest"
	"github.com/flowscope-go/flowscope/source"
)

const capture = "../../testdata/mail-syslog.pcap"

// TestRun runs the program on the recorded mail and syslog traffic: the
// custom parsers' records come out through the Zeek writer beside the
// built-in DNS parser's and the conn records.
func TestRun(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), capture, &out); err != nil {
		t.Fatal(err)
	}
	kinds := map[string][]map[string]any{}
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("%v: %s", err, line)
		}
		kinds[m["_path"].(string)] = append(kinds[m["_path"].(string)], m)
	}
	if n := [4]int{len(kinds["smtp"]), len(kinds["syslog"]), len(kinds["dns"]), len(kinds["conn"])}; n != [4]int{2, 3, 1, 6} {
		t.Fatalf("smtp, syslog, dns, conn records: %v, want 2, 3, 1, 6:\n%s", n, out.String())
	}
	mail := kinds["smtp"][1]
	if mail["mailfrom"] != "carol@example.test" || len(mail["rcptto"].([]any)) != 2 || mail["last_reply"] != "250 OK" ||
		mail["helo"] != "client1.example.test" || mail["partial"] != false {
		t.Errorf("second mail: %v", mail)
	}
	if s := kinds["syslog"][1]; s["facility"] != "CRON" || s["severity"] != "INFO" || !strings.HasSuffix(s["message"].(string), "job 42 finished") {
		t.Errorf("second syslog message: %v", s)
	}
	// The sample has no mail or syslog: the built-ins' records only.
	out.Reset()
	if err := run(context.Background(), "", &out); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), `"_path":"smtp"`) || strings.Contains(out.String(), `"_path":"syslog"`) || !strings.Contains(out.String(), `"_path":"http"`) {
		t.Errorf("on the sample:\n%s", out.String())
	}
}

// TestSMTPKit holds the SMTP parser to the session parser contract, on
// the recorded connections as a Driver feeds them.
func TestSMTPKit(t *testing.T) {
	src, err := source.OpenFiles(capture)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	convs, _ := parsertest.Read(t, src, func(c *flowscope.Conn) bool { return c.Resp.Port() == 2525 })
	if len(convs) != 2 {
		t.Fatalf("%d SMTP connections, want 2", len(convs))
	}
	parsertest.Run(t, SMTPParser{}, convs, func(m *Mail) string {
		return strings.Join(append([]string{m.Helo, m.From, m.LastReply}, m.To...), " ")
	})
}

// TestSyslogRecords holds the syslog records to the record contract, and
// the parser to giving up on a flow that does not start with a priority.
func TestSyslogRecords(t *testing.T) {
	p := SyslogParser{}.NewDatagram(&flowscope.Conn{UID: "Ctest"})
	recs := p.Datagram(flowscope.Orig, []byte("<165>1 2026-01-01T00:00:00Z host app - - - hello"), 1, nil)
	recs = p.Datagram(flowscope.Orig, []byte("not syslog"), 2, recs)
	if len(recs) != 1 || recs[0].Facility != 20 || recs[0].Severity != 5 || p.(flowscope.Doner).Done() {
		t.Fatalf("records %+v, done %v", recs, p.(flowscope.Doner).Done())
	}
	recordtest.Check(t, recs[0])
	q := SyslogParser{}.NewDatagram(&flowscope.Conn{})
	if q.Datagram(flowscope.Orig, []byte("\x00\x01 binary"), 1, nil); !q.(flowscope.Doner).Done() {
		t.Error("a flow that opens with no priority is not given up")
	}
}
