package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/dustin/go-humanize"

	"github.com/stowage-dev/stowage/fsck"
	"github.com/stowage-dev/stowage/gc"
	"github.com/stowage-dev/stowage/marker"
	"github.com/stowage-dev/stowage/objstore"
)

const fsckUsage = `Usage: stowage fsck --store URL [--json] [--deep] [--grace D] [--strict]

Checks every invariant of a stowage bucket. Read-only: it opens the store
read-only and writes nothing, creates nothing. Each session head
decodes and its checksum holds; everything a head names exists and the
session loads in full; no committed attachment ref dangles; manifest rows
and data objects agree. Reports orphans (objects nothing needs any more),
split into young ones (writes in flight) and stale ones (older than the
grace period: the sweeper has not reclaimed them yet).

Exit codes: 0 clean, 1 error (the check itself failed; retry later), 2 usage
or configuration (bad URL, no such bucket, access denied, no stowage store),
3 problems found (with --strict, stale orphans count as problems), 130/143
interrupted.
`

func runFsck(ctx context.Context, e *env, args []string) int {
	fs := e.newFlags("fsck", fsckUsage)
	store := e.storeFlag(fs)
	asJSON := fs.Bool("json", false, "print the report as JSON (always: with exit_code and error when the check cannot run)")
	deep := fs.Bool("deep", false, "also read every committed attachment in full and check its digest")
	grace := fs.Duration("grace", gc.DefaultGrace, "orphans older than this are stale (0s: every orphan is stale; negative is refused)")
	strict := fs.Bool("strict", false, "stale orphans are problems (exit 3)")
	if err := parseInterleaved(fs, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		// The flag package has printed the error and the usage.
		return e.fsckJSON(*asJSON, nil, exitUsage, err)
	}
	var usage error
	switch {
	case *store == "":
		usage = errors.New("--store (or STOWAGE_STORE) is required")
	case fs.NArg() > 0:
		usage = fmt.Errorf("unexpected arguments %q", fs.Args())
	case *grace < 0:
		usage = fmt.Errorf("--grace %s: must not be negative", *grace)
	}
	if usage != nil {
		return e.fsckJSON(*asJSON, nil, e.usageErr("fsck", "%v", usage), usage)
	}
	rep, err := e.fsck(ctx, *store, &fsck.Options{Grace: fsckGrace(*grace), Deep: *deep, StaleOrphansAreProblems: *strict})
	if damagedMarker(err) {
		rep, err = markerReport(err), nil
	}
	code := exitOK
	switch {
	case err != nil:
		code = e.fail("fsck", err)
	case !rep.Clean():
		code = exitProblems
	}
	if !*asJSON && err == nil {
		printFsck(e.stdout, rep)
	}
	return e.fsckJSON(*asJSON, rep, code, err)
}

// fsckJSON prints the JSON report when asJSON (also when the check could
// not run: a usage error, a store that does not open) and returns code.
func (e *env) fsckJSON(asJSON bool, rep *fsck.Report, code int, err error) int {
	if !asJSON {
		return code
	}
	out := fsckOutput{Report: rep, ExitCode: code}
	if err != nil {
		out.Error = err.Error()
	} else {
		out.Clean = rep.Clean()
	}
	enc := json.NewEncoder(e.stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		return e.fail("fsck", err)
	}
	return code
}

// fsckOutput is fsck's JSON report.
type fsckOutput struct {
	*fsck.Report
	Clean    bool   `json:"clean"`
	ExitCode int    `json:"exit_code"`
	Error    string `json:"error,omitempty"`
}

// fsckGrace maps the flag to fsck.Options.Grace, where zero means the
// default: --grace 0s means no grace at all (a negative Grace).
func fsckGrace(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}

// fsck opens the store read-only and checks it.
func (e *env) fsck(ctx context.Context, url string, opts *fsck.Options) (*fsck.Report, error) {
	st, err := e.open(ctx, url, e.quietLogger(), true)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	return fsck.Check(ctx, st, opts)
}

// damagedMarker reports whether the store did not open because its
// marker is damaged: it does not decode (on any backend), or a file
// store's checksum of it fails.
func damagedMarker(err error) bool {
	return errors.Is(err, marker.ErrBadMarker) || errors.Is(err, objstore.ErrChecksum)
}

// markerReport is the report on a store whose marker is damaged: that one
// problem, and nothing else checked (without the marker the store's format
// is unknown). fsck repairs nothing: a person restores the marker.
func markerReport(err error) *fsck.Report {
	return &fsck.Report{Checked: time.Now(), Problems: []fsck.Problem{{Invariant: fsck.InvMarker, Key: marker.Key,
		Detail: fmt.Sprintf("the store marker is damaged; nothing else was checked (restore the marker, fsck repairs nothing): %v", err)}},
		Warnings: []fsck.Problem{}, Orphans: []fsck.Orphan{}, Unreadable: []string{marker.Key}, Unknown: []string{}, NeedsAttention: true}
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

// humanBytes formats n bytes with a binary unit ("1.5 MiB").
func humanBytes(n int64) string {
	return humanize.IBytes(uint64(max(n, 0)))
}
