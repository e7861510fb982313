// Command samejson compares two files of JSON Lines records, as two
// builds of flowscope wrote them for one capture: whether they are the
// same bytes, and if not, whether each kind of record (by "_path") is the
// same sequence of records with the same values, numbers compared by
// value (so 300.0 and 300.000000 agree), whatever the interleaving of
// kinds. It prints one line saying which, and exits 1 when the records
// differ.
//
//	go run ./bench/samejson OLD NEW
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"reflect"
	"slices"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: samejson OLD NEW")
		os.Exit(2)
	}
	a, b := read(os.Args[1]), read(os.Args[2])
	if bytes.Equal(a, b) {
		fmt.Println("identical")
		return
	}
	ka, kb := byKind(os.Args[1], a), byKind(os.Args[2], b)
	kinds := map[string]bool{}
	for k := range ka {
		kinds[k] = true
	}
	for k := range kb {
		kinds[k] = true
	}
	bytesOnly, bad := 0, 0
	for _, k := range slices.Sorted(maps.Keys(kinds)) {
		la, lb := ka[k], kb[k]
		if len(la) != len(lb) {
			fmt.Printf("%s: %d records against %d\n", k, len(la), len(lb))
			bad++
			continue
		}
		for i := range la {
			if la[i].raw == lb[i].raw {
				continue
			}
			if !reflect.DeepEqual(la[i].v, lb[i].v) {
				fmt.Printf("%s record %d differs:\n  %s\n  %s\n", k, i, la[i].raw, lb[i].raw)
				bad++
				break
			}
			bytesOnly++
		}
	}
	if bad > 0 {
		os.Exit(1)
	}
	fmt.Printf("same records kind by kind; %d written differently with the same values, interleaving %s\n",
		bytesOnly, map[bool]string{true: "the same", false: "different"}[sameOrder(a, b)])
}

func read(path string) []byte {
	b, err := os.ReadFile(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "samejson:", err)
		os.Exit(2)
	}
	return b
}

type rec struct {
	raw string
	v   map[string]any
}

func byKind(name string, b []byte) map[string][]rec {
	out := map[string][]rec{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 64<<20)
	for n := 1; sc.Scan(); n++ {
		var v map[string]any
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			fmt.Fprintf(os.Stderr, "samejson: %s line %d: %v\n", name, n, err)
			os.Exit(1)
		}
		k, _ := v["_path"].(string)
		out[k] = append(out[k], rec{raw: sc.Text(), v: v})
	}
	return out
}

// sameOrder reports whether the two files have their kinds in the same
// sequence, line by line.
func sameOrder(a, b []byte) bool {
	kinds := func(b []byte) []string {
		var ks []string
		for line := range bytes.Lines(b) {
			var v struct {
				Path string `json:"_path"`
			}
			_ = json.Unmarshal(line, &v)
			ks = append(ks, v.Path)
		}
		return ks
	}
	return slices.Equal(kinds(a), kinds(b))
}
