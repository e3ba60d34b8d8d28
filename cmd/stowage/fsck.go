package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"

	"github.com/stowage-dev/stowage/fsck"
	"github.com/stowage-dev/stowage/gc"
)

const fsckUsage = `Usage: stowage fsck --store URL [--json] [--deep] [--grace D] [--strict]

Checks every invariant of a stowage bucket, read-only: each session head
decodes and its checksum holds; everything a head names exists and the
session loads in full; no committed attachment ref dangles; manifest rows
and data objects agree. Reports orphans (objects nothing needs any more),
split into young ones (writes in flight) and stale ones (older than the
grace period: the sweeper has not reclaimed them yet).

Exit codes: 0 clean, 1 error (the check itself failed), 2 usage,
3 problems found (with --strict, stale orphans count as problems).
`

func runFsck(ctx context.Context, e *env, args []string) int {
	fs := e.newFlags("fsck", fsckUsage)
	store := e.storeFlag(fs)
	asJSON := fs.Bool("json", false, "print the report as JSON")
	deep := fs.Bool("deep", false, "also read every committed attachment in full and check its digest")
	grace := fs.Duration("grace", gc.DefaultGrace, "orphans older than this are stale")
	strict := fs.Bool("strict", false, "stale orphans are problems (exit 3)")
	if code, ok := e.parse(fs, args); !ok {
		return code
	}
	if *store == "" {
		return e.usageErr("fsck", "--store (or STOWAGE_STORE) is required")
	}
	if fs.NArg() > 0 {
		return e.usageErr("fsck", "unexpected arguments %q", fs.Args())
	}
	st, err := e.open(ctx, *store, e.quietLogger())
	if err != nil {
		return e.fail("fsck", err)
	}
	defer st.Close()
	rep, err := fsck.Check(ctx, st, &fsck.Options{Grace: *grace, Deep: *deep, StaleOrphansAreProblems: *strict})
	if err != nil {
		return e.fail("fsck", err)
	}
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(struct {
			*fsck.Report
			Clean bool `json:"clean"`
		}{rep, rep.Clean()}); err != nil {
			return e.fail("fsck", err)
		}
	} else {
		printFsck(e.stdout, rep)
	}
	if !rep.Clean() {
		return exitProblems
	}
	return exitOK
}

// printFsck prints a report for people.
func printFsck(w io.Writer, rep *fsck.Report) {
	c := rep.Counts
	fmt.Fprintf(w, "sessions %d (deleted %d, headless %d), objects named %d, nodes %d\n",
		c.Sessions, c.DeletedHeads, c.HeadlessPrefix, c.SessionObjects, c.Nodes)
	fmt.Fprintf(w, "attachment rows %d (committed %d), upload intents %d, data objects %d (%s), multipart uploads %d\n",
		c.Rows, c.CommittedRows, c.UploadIntents, c.DataObjects, humanBytes(c.DataBytes), c.Multipart)
	young, stale := rep.OrphanCounts(false), rep.OrphanCounts(true)
	if len(young) == 0 {
		fmt.Fprintln(w, "orphans: none")
	} else {
		kinds := make([]string, 0, len(young))
		for k := range young {
			kinds = append(kinds, string(k))
		}
		sort.Strings(kinds)
		fmt.Fprintf(w, "orphans (grace %s):\n", rep.Grace)
		for _, k := range kinds {
			fmt.Fprintf(w, "  %-18s %6d (%d stale)\n", k, young[gc.Kind(k)], stale[gc.Kind(k)])
		}
	}
	if len(rep.Warnings) > 0 {
		fmt.Fprintf(w, "%d warnings:\n", len(rep.Warnings))
		for _, p := range rep.Warnings {
			fmt.Fprintf(w, "  %s\n", p)
		}
	}
	if rep.Clean() {
		fmt.Fprintln(w, "clean: every invariant holds")
		return
	}
	fmt.Fprintf(w, "%d PROBLEMS:\n", len(rep.Problems))
	for _, p := range rep.Problems {
		fmt.Fprintf(w, "  %s\n", p)
	}
}

// humanBytes formats n bytes with a binary unit.
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
