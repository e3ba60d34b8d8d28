package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/stowage-dev/stowage/gc"
	"github.com/stowage-dev/stowage/internal/buildinfo"
	"github.com/stowage-dev/stowage/internal/exitcode"
	"github.com/stowage-dev/stowage/marker"
	"github.com/stowage-dev/stowage/objstore"
	"github.com/stowage-dev/stowage/objstore/instrument"
	"github.com/stowage-dev/stowage/objstore/openurl"
	"github.com/stowage-dev/stowage/session"
)

// Exit codes (documented in the usage text and docs/operations.md); the
// shared classes come from package exitcode.
const (
	exitOK        = exitcode.OK
	exitError     = exitcode.Failure
	exitUsage     = exitcode.Config
	exitLeaseHeld = 3
	exitRefused   = 4
)

const usageText = `Usage: sweeper --store URL [flags]

Runs one sweep of a stowage bucket: reclaims attachment data no ref names
(through the deletion fence), dead intents, incomplete multipart uploads and
session objects no head names. Keys outside stowage's layout are reported,
never deleted. Every flag has an environment fallback (in brackets).

Flags:
`

const exitText = `
Exit codes:
  0    the sweep completed
  1    transient error: storage unavailable, some deletions failed, lease
       lost; the next run resumes
  2    usage or configuration error: bad flag, bad store URL or parameter,
       no such bucket, access denied, no stowage store at the URL
  3    the shard's lease is held by another sweeper (not an error for a CronJob)
  4    refused: blobs exist but the root set is empty (see --allow-empty-roots)
  130  interrupted (SIGINT), 143 terminated (SIGTERM); the report is written
`

// deps is what run takes from its process; tests replace the clock.
type deps struct {
	getenv         func(string) string
	stdout, stderr io.Writer
	now            func() time.Time // the metrics' timestamps
}

// run is the whole command; main only calls it. It returns the exit code.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	return runWith(ctx, args, &deps{getenv: getenv, stdout: stdout, stderr: stderr, now: time.Now})
}

func runWith(ctx context.Context, args []string, d *deps) int {
	cfg, err := parseFlags(args, d.getenv, d.stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(d.stderr, "sweeper: %v\n", err)
		if cfg != nil && cfg.jsonOut {
			// --json holds also for a bad flag, once --json was parsed.
			_ = writeReport(d.stdout, cfg, nil, exitUsage, err)
		}
		return exitUsage
	}
	if cfg.version {
		fmt.Fprintln(d.stdout, "sweeper", buildinfo.Read())
		return exitOK
	}
	log := newLogger(d.stderr, cfg)
	reg := prometheus.NewRegistry()
	started := d.now()
	rep, err := sweep(ctx, cfg, reg, log, d)
	code := exitCode(ctx, err)
	logOutcome(ctx, log, code, err)
	mctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
	defer cancel()
	if merr := exportMetrics(mctx, reg, cfg, orNotStarted(rep, cfg), code, d.now().Sub(started), d.now); merr != nil {
		log.Error("sweeper: exporting metrics failed", "err", merr)
		if code == exitOK {
			code, err = exitError, merr
		}
	}
	if werr := writeReport(d.stdout, cfg, rep, code, err); werr != nil {
		log.Error("sweeper: writing the report failed", "err", werr)
	}
	return code
}

// sweep opens the store and runs one sweep. A dry run opens it read-only.
// The report is nil when the sweep never started (the store did not open,
// or holds no stowage store).
func sweep(ctx context.Context, cfg *config, reg prometheus.Registerer, log *slog.Logger, d *deps) (*gc.Report, error) {
	store, err := openStore(ctx, cfg, reg, log, d)
	if err != nil {
		return nil, err
	}
	defer store.Close()
	maxDeletes := cfg.maxDeletes
	if maxDeletes == 0 {
		maxDeletes = gc.NoDeletes
	}
	sw := &gc.Sweeper{
		Store: store,
		// Session objects and dead rows go through the session head fence
		// (docs/protocol.md, Sweeping, W1 and W2): no clock decides safety.
		Heads:             gc.SessionHeads{SweepFunc: session.SweepHead},
		HeadRefs:          session.HeadRefs{Store: store},
		Grace:             cfg.grace,
		DryRun:            cfg.dryRun,
		MaxDeletes:        maxDeletes,
		Shard:             cfg.shard,
		Logger:            log,
		AllowEmptyRoots:   cfg.allowEmpty,
		ForgetDeadIntents: cfg.forget,
		Holder:            cfg.holder,
		LeaseTTL:          cfg.leaseTTL,
	}
	showProgress := cfg.progress == "always" || cfg.progress == "auto" && isTerminal(d.stderr)
	if showProgress {
		sw.Progress = func(r gc.Report) {
			fmt.Fprintf(d.stderr, "\rsweeper %s: scanned %d, reclaimed %d, deferred %d, failed %d ", r.Shard, r.Scanned, r.Total(), r.Deferred, r.Failed)
		}
	}
	got, err := sw.Run(ctx)
	if showProgress {
		fmt.Fprintln(d.stderr)
	}
	if got.Shard == "" {
		return nil, err // the sweeper refused its configuration
	}
	return &got, err
}

// orNotStarted is rep, or for a sweep that never started the empty report
// of its shard and mode (the metrics of a failed run).
func orNotStarted(rep *gc.Report, cfg *config) gc.Report {
	if rep != nil {
		return *rep
	}
	return gc.Report{Shard: cfg.shard.String(), DryRun: cfg.dryRun}
}

// openStore opens the store the sweep runs on, after checking, read-only,
// that it holds a stowage store. A target with no store (a typo in the
// prefix) is refused, never swept as an empty one, and before anything is
// written: the read-write open would create a file store's layout (a
// missing directory, its lock files) and probe an S3 prefix with writes.
// The check skips the probe when the read-write open probes after it.
func openStore(ctx context.Context, cfg *config, reg prometheus.Registerer, log *slog.Logger, d *deps) (objstore.Store, error) {
	opts := &openurl.Options{Metrics: instrument.For(reg), Logger: log, Getenv: d.getenv, ReadOnly: true, SkipProbe: !cfg.dryRun}
	ro, err := openurl.Open(ctx, cfg.store, opts)
	if err != nil {
		return nil, fmt.Errorf("cannot open the store: %w", err)
	}
	if _, err := marker.Check(ctx, ro); err != nil || cfg.dryRun {
		if err != nil {
			ro.Close()
			return nil, exitcode.Where(cfg.store, err)
		}
		return ro, nil
	}
	ro.Close()
	opts.ReadOnly, opts.SkipProbe = false, false
	rw, err := openurl.Open(ctx, cfg.store, opts)
	if err != nil {
		return nil, fmt.Errorf("cannot open the store: %w", err)
	}
	return rw, nil
}

func logOutcome(ctx context.Context, log *slog.Logger, code int, err error) {
	switch {
	case err == nil && code == exitOK:
	case code == exitLeaseHeld:
		log.Warn("sweeper: another sweeper holds this shard; nothing done", "err", err)
	case code == exitRefused:
		log.Error("sweeper: refused", "err", err)
	case code == exitUsage:
		log.Error("sweeper: configuration error; retrying will not help", "err", err)
	case ctx.Err() != nil:
		log.Warn("sweeper: interrupted; the next run resumes", "err", err)
	default:
		log.Error("sweeper: sweep failed", "err", err)
	}
}

// exitCode maps the sweep's outcome to the documented exit codes.
func exitCode(ctx context.Context, err error) int {
	switch {
	case errors.Is(err, gc.ErrLeaseHeld):
		return exitLeaseHeld
	case errors.Is(err, gc.ErrEmptyRoots):
		return exitRefused
	}
	return exitcode.Classify(ctx, err)
}

func newLogger(w io.Writer, cfg *config) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.logLevel}
	if cfg.logJSON {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// output is the JSON report. A sweep that never started (a bad flag, a
// store that does not open or holds no stowage store) has no Report: its
// JSON holds only shard (when the flags gave a valid one), dry_run,
// max_deletes, exit_code and error, and claims no scan.
type output struct {
	Shard  string `json:"shard,omitempty"`
	DryRun bool   `json:"dry_run"`
	*gc.Report
	// MaxDeletes is the deletion budget the run had (negative: unbounded).
	MaxDeletes int    `json:"max_deletes"`
	ExitCode   int    `json:"exit_code"`
	Error      string `json:"error,omitempty"`
}

func writeReport(w io.Writer, cfg *config, rep *gc.Report, code int, err error) error {
	out := output{Report: rep, DryRun: cfg.dryRun, MaxDeletes: cfg.maxDeletes, ExitCode: code}
	switch {
	case rep != nil:
		out.Shard, out.DryRun = rep.Shard, rep.DryRun
	case cfg.valid:
		out.Shard = cfg.shard.String()
	}
	if err != nil {
		out.Error = err.Error()
	}
	if cfg.jsonOut {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	_, werr := io.WriteString(w, textReport(out))
	return werr
}

// textReport is the summary for people. A dry run says what it would
// reclaim; --max-deletes 0 says that nothing was deleted.
func textReport(out output) string {
	rep := out.Report
	if rep == nil {
		// A sweep that never started: no counts to claim.
		return fmt.Sprintf("error (exit %d): %s\n", out.ExitCode, out.Error)
	}
	verb, mode := "reclaimed", ""
	switch {
	case rep.DryRun:
		verb, mode = "would reclaim", " (dry run: nothing was deleted)"
	case out.MaxDeletes == 0:
		mode = " (--max-deletes 0: nothing was deleted)"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "shard %s%s: scanned %d, roots %d, %s %d (%s), deferred %d, failed %d, deleted-while-referenced %d\n",
		rep.Shard, mode, rep.Scanned, rep.Roots, verb, rep.Total(), humanize.IBytes(uint64(max(rep.BytesReclaimed, 0))), rep.Deferred, rep.Failed, rep.DeletedWhileReferenced)
	for _, k := range sortedKeys(rep.Reclaimed) {
		fmt.Fprintf(&b, "  %-13s %-18s %d\n", verb, k, rep.Reclaimed[gc.Kind(k)])
	}
	for _, k := range sortedKeys(rep.Skipped) {
		fmt.Fprintf(&b, "  %-13s %-18s %d\n", "skipped", k, rep.Skipped[k])
	}
	for _, k := range rep.Unknown {
		fmt.Fprintf(&b, "  %-13s %s\n", "unknown", k)
	}
	if out.Error != "" {
		fmt.Fprintf(&b, "error (exit %d): %s\n", out.ExitCode, out.Error)
	}
	return b.String()
}

func sortedKeys[K ~string, V any](m map[K]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, string(k))
	}
	sort.Strings(out)
	return out
}
