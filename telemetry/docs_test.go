package telemetry_test

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stowage-dev/stowage"
	"github.com/stowage-dev/stowage/observe"
	"github.com/stowage-dev/stowage/telemetry"
)

// The tests here hold docs/operations.md, "Library metrics and traces" to
// the code: its snippet is the Example's, its tables list exactly the
// metrics registered and the spans made.

// section returns the text of docs/operations.md's section title.
func section(t *testing.T, title string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "docs/operations.md"))
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	i := strings.Index(doc, "\n## "+title+"\n")
	if i < 0 {
		t.Fatalf("docs/operations.md has no section %q", title)
	}
	doc = doc[i+1:]
	if j := strings.Index(doc[3:], "\n## "); j >= 0 {
		doc = doc[:j+3]
	}
	return doc
}

const docSection = "Library metrics and traces"

// lines returns the non-empty lines of s, trimmed.
func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// TestOperationsSnippet: the section's go block is the runnable Example's
// code between its snippet markers, line for line.
func TestOperationsSnippet(t *testing.T) {
	m := regexp.MustCompile("(?s)```go\n(.*?)```").FindStringSubmatch(section(t, docSection))
	if m == nil {
		t.Fatal("no go block in the section")
	}
	src, err := os.ReadFile("example_test.go")
	if err != nil {
		t.Fatal(err)
	}
	ex := regexp.MustCompile(`(?s)// snippet start\n(.*?)\s*// snippet end`).FindStringSubmatch(string(src))
	if ex == nil {
		t.Fatal("example_test.go has no snippet markers")
	}
	if doc, code := lines(m[1]), lines(ex[1]); !slices.Equal(doc, code) {
		t.Errorf("docs/operations.md snippet:\n%s\nExample:\n%s", strings.Join(doc, "\n"), strings.Join(code, "\n"))
	}
}

var tableRow = regexp.MustCompile("(?m)^\\| `([a-z_.]+)` \\| (.*) \\|$")

// TestOperationsTelemetryTables: the metric table lists every stowage_
// family a story registers (besides package instrument's), with its type
// and labels, and nothing else; the span table lists observe.Ops() with
// the attributes the spans carry.
func TestOperationsTelemetryTables(t *testing.T) {
	o := newObserved()
	st, err := stowage.Open(t.Context(), "mem://", stowage.Config{Telemetry: o.tel})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	story(t, t.Context(), st, o)
	got := map[string]string{} // name -> "type | labels"
	fams, _ := o.reg.Gather()
	for _, f := range fams {
		if strings.HasPrefix(f.GetName(), "stowage_objstore_") {
			continue
		}
		var labels []string
		for _, l := range f.GetMetric()[0].GetLabel() {
			labels = append(labels, "`"+l.GetName()+"`")
		}
		if len(labels) == 0 {
			labels = []string{"–"}
		}
		got[f.GetName()] = strings.ToLower(f.GetType().String()) + " | " + strings.Join(labels, ", ")
	}
	doc, spans := map[string]string{}, map[string]string{}
	for _, m := range tableRow.FindAllStringSubmatch(section(t, docSection), -1) {
		cols := strings.Split(m[2], " | ")
		if strings.HasPrefix(m[1], "stowage_") && len(cols) == 3 {
			doc[m[1]] = cols[0] + " | " + cols[1]
		} else if len(cols) == 1 {
			spans[m[1]] = cols[0]
		}
	}
	for name, v := range got {
		if doc[name] != v {
			t.Errorf("metric %s: documented %q, registered %q", name, doc[name], v)
		}
	}
	for name := range doc {
		if _, ok := got[name]; !ok {
			t.Errorf("documented metric %s is not registered", name)
		}
	}
	if len(spans) != len(observe.Ops()) {
		t.Errorf("documented spans %v, want %v", spans, observe.Ops())
	}
	made := map[string]map[string]bool{}
	for _, s := range o.spans.GetSpans() {
		if made[s.Name] == nil {
			made[s.Name] = map[string]bool{}
		}
		for _, kv := range s.Attributes {
			if kv.Key != telemetry.AttrResult {
				made[s.Name][string(kv.Key)] = true
			}
		}
	}
	for _, op := range observe.Ops() {
		var want []string
		for _, a := range regexp.MustCompile("`(stowage\\.[a-z.]+)`").FindAllStringSubmatch(spans[op], -1) {
			want = append(want, a[1])
		}
		var have []string
		for k := range made[op] {
			have = append(have, k)
		}
		slices.Sort(want)
		slices.Sort(have)
		if !slices.Equal(want, have) {
			t.Errorf("span %s: documented attributes %v, carries %v", op, want, have)
		}
	}
}
