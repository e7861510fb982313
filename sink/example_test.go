package sink_test

import (
	"fmt"
	"net/netip"
	"os"
	"time"

	"github.com/flowscope-go/flowscope"
	"github.com/flowscope-go/flowscope/sink"
)

// Alert is a record of a program's own, not a parser's: it describes
// itself, so every encoder writes it.
type Alert struct {
	Conn     *flowscope.Conn
	Time     int64
	Rule     string
	Severity uint64
	Tags     []string
}

var alertSchema = flowscope.ConnSchema("alert",
	flowscope.Field{Name: "rule", Type: flowscope.TypeString},
	flowscope.Field{Name: "severity", Type: flowscope.TypeCount},
	flowscope.Field{Name: "tags", Type: flowscope.SetOf(flowscope.TypeString)},
)

func (a *Alert) Schema() *flowscope.Schema { return alertSchema }

func (a *Alert) AppendValues(vs []flowscope.Value) []flowscope.Value {
	vs = a.Conn.AppendValues(vs, a.Time)
	return append(vs, flowscope.StringValue(a.Rule), flowscope.CountValue(a.Severity),
		flowscope.StringsValue(flowscope.SetOf(flowscope.TypeString), a.Tags))
}

// Encode a record of your own in Zeek's JSON, from its schema and values.
func ExampleZeekJSON() {
	conn := &flowscope.Conn{UID: "CtB9m21QYhaGxmJXvk",
		Orig: netip.MustParseAddrPort("192.0.2.10:51000"), Resp: netip.MustParseAddrPort("198.51.100.1:80")}
	a := &Alert{Conn: conn, Time: time.Unix(1_700_000_000, 250e6).UnixNano(), Rule: "cleartext password", Severity: 3, Tags: []string{"http", "auth"}}
	var z sink.ZeekJSON
	os.Stdout.Write(z.Append(nil, a))
	fmt.Println()
	// Output:
	// {"_path":"alert","ts":1700000000.250000,"uid":"CtB9m21QYhaGxmJXvk","id.orig_h":"192.0.2.10","id.orig_p":51000,"id.resp_h":"198.51.100.1","id.resp_p":80,"rule":"cleartext password","severity":3,"tags":["http","auth"]}
}
