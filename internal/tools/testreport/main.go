// Command testreport turns `go test -json` into a short report: every
// top-level test and its first level of subtests with their result (so the
// conformance suite shows one line per backend and server), the whole output
// of every failing test, the "summary:" lines of passing tests (seed and run
// counts), one go-test style line per package, and a closing
// "N passed, N failed, N skipped" line counting tests and subtests.
//
//	go test -json ./... | go run ./internal/tools/testreport
//
// It exits 1 if any test or package failed.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
)

type event struct {
	Action  string
	Package string
	Test    string
	Output  string
	Elapsed float64
}

type key struct{ pkg, test string }

func main() {
	os.Exit(run(os.Stdin, os.Stdout))
}

func run(in io.Reader, out io.Writer) int {
	r := &reporter{w: bufio.NewWriter(out), output: map[key][]string{}}
	defer r.w.Flush()
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		r.line(sc.Bytes())
	}
	fmt.Fprintf(r.w, "%d passed, %d failed, %d skipped\n", r.passed, r.failed, r.skipped)
	if r.failed > 0 || r.pkgFailed {
		return 1
	}
	return 0
}

// reporter is the state of one report.
type reporter struct {
	w                       *bufio.Writer
	output                  map[key][]string // buffered output of running tests
	passed, failed, skipped int
	pkgFailed               bool
}

// line handles one line of go test -json.
func (r *reporter) line(line []byte) {
	var e event
	if err := json.Unmarshal(line, &e); err != nil {
		fmt.Fprintln(r.w, string(line)) // build errors and the like
		return
	}
	switch e.Action {
	case "build-output":
		fmt.Fprint(r.w, e.Output)
	case "build-fail":
		r.pkgFailed = true
	case "output":
		r.outputLine(e)
	case "pass", "fail", "skip":
		if e.Test == "" {
			r.packageDone(e)
		} else {
			r.testDone(e)
		}
	}
}

// outputLine prints package-level output that is not a summary line and
// buffers a test's output until the test ends.
func (r *reporter) outputLine(e event) {
	if e.Test == "" {
		o := strings.TrimRight(e.Output, "\n")
		if o == "PASS" || o == "FAIL" || strings.HasPrefix(o, "ok ") || strings.HasPrefix(o, "FAIL\t") ||
			strings.HasPrefix(o, "ok\t") || strings.HasPrefix(o, "?") || strings.HasPrefix(o, "=== ") || o == "" ||
			o == "testing: warning: no tests to run" {
			return
		}
		fmt.Fprintln(r.w, o)
		return
	}
	if !strings.HasPrefix(e.Output, "=== ") {
		k := key{e.Package, e.Test}
		r.output[k] = append(r.output[k], e.Output)
	}
}

// packageDone prints a package's go-test style line.
func (r *reporter) packageDone(e event) {
	switch e.Action {
	case "pass":
		fmt.Fprintf(r.w, "ok  \t%s\t%.3fs\n", e.Package, e.Elapsed)
	case "fail":
		r.pkgFailed = true
		fmt.Fprintf(r.w, "FAIL\t%s\t%.3fs\n", e.Package, e.Elapsed)
	case "skip":
		fmt.Fprintf(r.w, "?   \t%s\t[no test files]\n", e.Package)
	}
	r.w.Flush()
}

// testDone counts a test and prints its result: a failure with its whole
// output, a pass or skip of the first two levels as one line, the
// "summary:" lines of a pass and the output of a skip.
func (r *reporter) testDone(e event) {
	switch e.Action {
	case "pass":
		r.passed++
	case "fail":
		r.failed++
	case "skip":
		r.skipped++
	}
	k := key{e.Package, e.Test}
	lines := r.output[k]
	delete(r.output, k)
	depth := strings.Count(e.Test, "/")
	if e.Action == "fail" {
		fmt.Fprintf(r.w, "--- FAIL: %s (%.2fs) [%s]\n", e.Test, e.Elapsed, e.Package)
		for _, l := range lines {
			if !strings.Contains(l, "--- PASS") && !strings.Contains(l, "--- FAIL") && !strings.Contains(l, "--- SKIP") {
				fmt.Fprint(r.w, "    "+strings.TrimLeft(l, " "))
			}
		}
	} else {
		if depth <= 1 {
			fmt.Fprintf(r.w, "%s--- %s: %s (%.2fs)\n", strings.Repeat("    ", depth), strings.ToUpper(e.Action), e.Test, e.Elapsed)
		}
		// A passing test's "summary:" lines (counts of seeds, runs,
		// faults) are always shown.
		for _, l := range lines {
			if i := strings.Index(l, "summary:"); i >= 0 {
				fmt.Fprintf(r.w, "%s%s: %s", strings.Repeat("    ", min(depth, 1)+1), e.Test, l[i:])
			}
		}
	}
	if e.Action == "skip" && depth <= 1 {
		for _, l := range lines {
			if !strings.Contains(l, "--- SKIP") {
				fmt.Fprint(r.w, strings.Repeat("    ", depth+1)+strings.TrimLeft(l, " "))
			}
		}
	}
}
