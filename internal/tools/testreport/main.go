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
	w := bufio.NewWriter(out)
	defer w.Flush()
	output := map[key][]string{} // buffered output of running tests
	var passed, failed, skipped int
	pkgFailed := false
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var e event
		if err := json.Unmarshal(line, &e); err != nil {
			fmt.Fprintln(w, string(line)) // build errors and the like
			continue
		}
		k := key{e.Package, e.Test}
		depth := strings.Count(e.Test, "/")
		switch e.Action {
		case "build-output":
			fmt.Fprint(w, e.Output)
		case "build-fail":
			pkgFailed = true
		case "output":
			if e.Test == "" {
				// Package-level output: keep what is not a summary line.
				o := strings.TrimRight(e.Output, "\n")
				if o == "PASS" || o == "FAIL" || strings.HasPrefix(o, "ok ") || strings.HasPrefix(o, "FAIL\t") ||
					strings.HasPrefix(o, "ok\t") || strings.HasPrefix(o, "?") || strings.HasPrefix(o, "=== ") || o == "" ||
					o == "testing: warning: no tests to run" {
					continue
				}
				fmt.Fprintln(w, o)
				continue
			}
			if !strings.HasPrefix(e.Output, "=== ") {
				output[k] = append(output[k], e.Output)
			}
		case "pass", "fail", "skip":
			if e.Test == "" {
				switch e.Action {
				case "pass":
					fmt.Fprintf(w, "ok  \t%s\t%.3fs\n", e.Package, e.Elapsed)
				case "fail":
					pkgFailed = true
					fmt.Fprintf(w, "FAIL\t%s\t%.3fs\n", e.Package, e.Elapsed)
				case "skip":
					fmt.Fprintf(w, "?   \t%s\t[no test files]\n", e.Package)
				}
				w.Flush()
				continue
			}
			switch e.Action {
			case "pass":
				passed++
			case "fail":
				failed++
			case "skip":
				skipped++
			}
			lines := output[k]
			delete(output, k)
			if e.Action == "fail" {
				fmt.Fprintf(w, "--- FAIL: %s (%.2fs) [%s]\n", e.Test, e.Elapsed, e.Package)
				for _, l := range lines {
					if !strings.Contains(l, "--- PASS") && !strings.Contains(l, "--- FAIL") && !strings.Contains(l, "--- SKIP") {
						fmt.Fprint(w, "    "+strings.TrimLeft(l, " "))
					}
				}
			} else {
				if depth <= 1 {
					fmt.Fprintf(w, "%s--- %s: %s (%.2fs)\n", strings.Repeat("    ", depth), strings.ToUpper(e.Action), e.Test, e.Elapsed)
				}
				// A passing test's "summary:" lines (counts of seeds, runs,
				// faults) are always shown.
				for _, l := range lines {
					if i := strings.Index(l, "summary:"); i >= 0 {
						fmt.Fprintf(w, "%s%s: %s", strings.Repeat("    ", min(depth, 1)+1), e.Test, l[i:])
					}
				}
			}
			if e.Action == "skip" && depth <= 1 {
				for _, l := range lines {
					if !strings.Contains(l, "--- SKIP") {
						fmt.Fprint(w, strings.Repeat("    ", depth+1)+strings.TrimLeft(l, " "))
					}
				}
			}
		}
	}
	fmt.Fprintf(w, "%d passed, %d failed, %d skipped\n", passed, failed, skipped)
	if failed > 0 || pkgFailed {
		return 1
	}
	return 0
}
