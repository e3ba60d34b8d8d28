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
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/stowage-dev/stowage/gc"
	"github.com/stowage-dev/stowage/objstore/openurl"
	"github.com/stowage-dev/stowage/session"
)

// Exit codes (documented in the usage text and docs/operations.md).
const (
	exitOK        = 0
	exitError     = 1
	exitUsage     = 2
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
  0  the sweep completed
  1  error: storage failure, some deletions failed, lease lost, interrupted
  2  usage error
  3  the shard's lease is held by another sweeper (not an error for a CronJob)
  4  refused: blobs exist but the root set is empty (see --allow-empty-roots)
`

// config is the parsed command line.
type config struct {
	store       string
	grace       time.Duration
	dryRun      bool
	maxDeletes  int
	shard       gc.Shard
	jsonOut     bool
	pushgateway string
	textfile    string
	allowEmpty  bool
	forget      bool
	leaseTTL    time.Duration
	holder      string
	logLevel    slog.Level
	logJSON     bool
	progress    string
}

// parseFlags parses args with environment fallbacks from getenv. It returns
// flag.ErrHelp for -h.
func parseFlags(args []string, getenv func(string) string, stderr io.Writer) (*config, error) {
	fs := flag.NewFlagSet("sweeper", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usageText)
		fs.PrintDefaults()
		fmt.Fprint(stderr, exitText)
	}
	var envErr error
	env := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	envDur := func(name string, def time.Duration) time.Duration {
		v := getenv(name)
		if v == "" {
			return def
		}
		d, err := time.ParseDuration(v)
		if err != nil {
			envErr = errors.Join(envErr, fmt.Errorf("%s: %w", name, err))
		}
		return d
	}
	envInt := func(name string, def int) int {
		v := getenv(name)
		if v == "" {
			return def
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			envErr = errors.Join(envErr, fmt.Errorf("%s: %w", name, err))
		}
		return n
	}
	envBoolDefault := func(name string, def bool) bool {
		v := getenv(name)
		if v == "" {
			return def
		}
		b, err := strconv.ParseBool(v)
		if err != nil {
			envErr = errors.Join(envErr, fmt.Errorf("%s: %w", name, err))
		}
		return b
	}
	envBool := func(name string) bool { return envBoolDefault(name, false) }
	c := &config{}
	fs.StringVar(&c.store, "store", getenv("STOWAGE_STORE"), "store `URL`: s3://bucket/prefix?endpoint=..., minio://..., file:///dir [STOWAGE_STORE]")
	fs.DurationVar(&c.grace, "grace", envDur("STOWAGE_SWEEPER_GRACE", gc.DefaultGrace), "nothing younger is proposed for deletion; must exceed the longest writer stall you want to tolerate without a redo [STOWAGE_SWEEPER_GRACE]")
	fs.BoolVar(&c.dryRun, "dry-run", envBool("STOWAGE_SWEEPER_DRY_RUN"), "report what would be reclaimed; write nothing [STOWAGE_SWEEPER_DRY_RUN]")
	fs.IntVar(&c.maxDeletes, "max-deletes", envInt("STOWAGE_SWEEPER_MAX_DELETES", gc.DefaultMaxDeletes), "most deletions per run (negative: unbounded); the rest is deferred [STOWAGE_SWEEPER_MAX_DELETES]")
	shard := fs.String("shard", env("STOWAGE_SWEEPER_SHARD", ""), "sweep shard `i/n` only (n <= 64); default 0/1, or JOB_COMPLETION_INDEX/--shards in an Indexed Job [STOWAGE_SWEEPER_SHARD]")
	shards := fs.Int("shards", envInt("STOWAGE_SWEEPER_SHARDS", 0), "shard count when the index comes from JOB_COMPLETION_INDEX [STOWAGE_SWEEPER_SHARDS]")
	fs.BoolVar(&c.jsonOut, "json", envBool("STOWAGE_SWEEPER_JSON"), "print the report as JSON on stdout [STOWAGE_SWEEPER_JSON]")
	fs.StringVar(&c.pushgateway, "pushgateway", getenv("STOWAGE_SWEEPER_PUSHGATEWAY"), "push metrics to this Prometheus Pushgateway `URL` [STOWAGE_SWEEPER_PUSHGATEWAY]")
	fs.StringVar(&c.textfile, "metrics-textfile", getenv("STOWAGE_SWEEPER_METRICS_TEXTFILE"), "write metrics to this `file` (node_exporter textfile collector) [STOWAGE_SWEEPER_METRICS_TEXTFILE]")
	fs.BoolVar(&c.allowEmpty, "allow-empty-roots", envBool("STOWAGE_SWEEPER_ALLOW_EMPTY_ROOTS"), "sweep even if no row, upload intent or head exists (deletes everything unreferenced) [STOWAGE_SWEEPER_ALLOW_EMPTY_ROOTS]")
	fs.BoolVar(&c.forget, "forget-dead-intents", envBoolDefault("STOWAGE_SWEEPER_FORGET_DEAD_INTENTS", true), "forget dead intents first (default on; --forget-dead-intents=false keeps them): aged upload intents that are aborted or owner-dead, and each session's dead rows through its head fence (a row a published commit named is repaired instead; a commit stalled past --grace fails and prepares again, it never publishes a forgotten row; docs/protocol.md, Sweeping, W2). With it off, dead intents keep their data [STOWAGE_SWEEPER_FORGET_DEAD_INTENTS]")
	fs.DurationVar(&c.leaseTTL, "lease-ttl", envDur("STOWAGE_SWEEPER_LEASE_TTL", gc.DefaultLeaseTTL), "time to live of the shard lease (renewed while sweeping) [STOWAGE_SWEEPER_LEASE_TTL]")
	fs.StringVar(&c.holder, "holder", getenv("STOWAGE_SWEEPER_HOLDER"), "name of this sweeper in the lease; default host:pid [STOWAGE_SWEEPER_HOLDER]")
	level := fs.String("log-level", env("STOWAGE_SWEEPER_LOG_LEVEL", "info"), "debug, info, warn or error [STOWAGE_SWEEPER_LOG_LEVEL]")
	format := fs.String("log-format", env("STOWAGE_SWEEPER_LOG_FORMAT", "text"), "text or json [STOWAGE_SWEEPER_LOG_FORMAT]")
	fs.StringVar(&c.progress, "progress", env("STOWAGE_SWEEPER_PROGRESS", "auto"), "progress on stderr: auto (when a terminal), always or never [STOWAGE_SWEEPER_PROGRESS]")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if envErr != nil {
		return nil, envErr
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	if c.store == "" {
		return nil, errors.New("--store (or STOWAGE_STORE) is required")
	}
	if c.grace < 0 {
		return nil, errors.New("--grace must not be negative")
	}
	if c.leaseTTL <= 0 {
		return nil, errors.New("--lease-ttl must be positive")
	}
	var err error
	switch {
	case *shard != "":
		c.shard, err = gc.ParseShard(*shard)
	case *shards > 0:
		idx := getenv("JOB_COMPLETION_INDEX")
		if idx == "" {
			return nil, errors.New("--shards needs JOB_COMPLETION_INDEX (an Indexed Job) or use --shard i/n")
		}
		c.shard, err = gc.ParseShard(idx + "/" + strconv.Itoa(*shards))
	}
	if err != nil {
		return nil, err
	}
	if err := c.logLevel.UnmarshalText([]byte(*level)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	switch *format {
	case "text":
	case "json":
		c.logJSON = true
	default:
		return nil, fmt.Errorf("--log-format %q: want text or json", *format)
	}
	switch c.progress {
	case "auto", "always", "never":
	default:
		return nil, fmt.Errorf("--progress %q: want auto, always or never", c.progress)
	}
	return c, nil
}

// run is the whole command; main only calls it. It returns the exit code.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	cfg, err := parseFlags(args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "sweeper: %v\n", err)
		return exitUsage
	}
	log := newLogger(stderr, cfg)
	reg := prometheus.NewRegistry()
	started := time.Now()
	store, err := openurl.Open(ctx, cfg.store, &openurl.Options{Registerer: reg, Logger: log, Getenv: getenv})
	if err != nil {
		log.Error("sweeper: cannot open the store", "err", err)
		return exitError
	}
	defer store.Close()

	sw := &gc.Sweeper{
		Store: store,
		// Session objects and dead rows go through the session head fence
		// (docs/protocol.md, Sweeping, W1 and W2): no clock decides safety.
		Heads:             gc.SessionHeads{SweepFunc: session.SweepHead},
		HeadRefs:          session.HeadRefs{Store: store},
		Grace:             cfg.grace,
		DryRun:            cfg.dryRun,
		MaxDeletes:        cfg.maxDeletes,
		Shard:             cfg.shard,
		Logger:            log,
		AllowEmptyRoots:   cfg.allowEmpty,
		ForgetDeadIntents: cfg.forget,
		Holder:            cfg.holder,
		LeaseTTL:          cfg.leaseTTL,
	}
	showProgress := cfg.progress == "always" || cfg.progress == "auto" && isTerminal(stderr)
	if showProgress {
		sw.Progress = func(r gc.Report) {
			fmt.Fprintf(stderr, "\rsweeper %s: scanned %d, reclaimed %d, deferred %d, failed %d ", r.Shard, r.Scanned, r.Total(), r.Deferred, r.Failed)
		}
	}
	rep, err := sw.Run(ctx)
	if showProgress {
		fmt.Fprintln(stderr)
	}
	code := exitCode(err)
	switch {
	case err == nil:
	case code == exitLeaseHeld:
		log.Warn("sweeper: another sweeper holds this shard; nothing done", "err", err)
	case code == exitRefused:
		log.Error("sweeper: refused", "err", err)
	case ctx.Err() != nil:
		log.Warn("sweeper: interrupted; the next run resumes", "err", err)
	default:
		log.Error("sweeper: sweep failed", "err", err)
	}
	if err := writeReport(stdout, cfg.jsonOut, rep, code, err); err != nil {
		log.Error("sweeper: writing the report failed", "err", err)
	}
	mctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
	defer cancel()
	if err := exportMetrics(mctx, reg, cfg, rep, code, time.Since(started)); err != nil {
		log.Error("sweeper: exporting metrics failed", "err", err)
		if code == exitOK {
			code = exitError
		}
	}
	return code
}

// exitCode maps a sweep error to the documented exit codes.
func exitCode(err error) int {
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, gc.ErrLeaseHeld):
		return exitLeaseHeld
	case errors.Is(err, gc.ErrEmptyRoots):
		return exitRefused
	}
	return exitError
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

// output is the JSON report.
type output struct {
	gc.Report
	ExitCode int    `json:"exit_code"`
	Error    string `json:"error,omitempty"`
}

func writeReport(w io.Writer, asJSON bool, rep gc.Report, code int, err error) error {
	out := output{Report: rep, ExitCode: code}
	if err != nil {
		out.Error = err.Error()
	}
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	var b strings.Builder
	mode := ""
	if rep.DryRun {
		mode = " (dry run: nothing was deleted)"
	}
	fmt.Fprintf(&b, "shard %s%s: scanned %d, roots %d, reclaimed %d (%d bytes), deferred %d, failed %d, deleted-while-referenced %d\n",
		rep.Shard, mode, rep.Scanned, rep.Roots, rep.Total(), rep.BytesReclaimed, rep.Deferred, rep.Failed, rep.DeletedWhileReferenced)
	for _, k := range sortedKeys(rep.Reclaimed) {
		fmt.Fprintf(&b, "  reclaimed %-18s %d\n", k, rep.Reclaimed[gc.Kind(k)])
	}
	for _, k := range sortedKeys(rep.Skipped) {
		fmt.Fprintf(&b, "  skipped   %-18s %d\n", k, rep.Skipped[k])
	}
	for _, k := range rep.Unknown {
		fmt.Fprintf(&b, "  unknown   %s\n", k)
	}
	_, werr := io.WriteString(w, b.String())
	return werr
}

func sortedKeys[K ~string, V any](m map[K]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, string(k))
	}
	sort.Strings(out)
	return out
}
