package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/stowage-dev/stowage/gc"
	"github.com/stowage-dev/stowage/internal/exitcode"
)

// config is the parsed command line.
type config struct {
	store       string
	grace       time.Duration
	dryRun      bool
	maxDeletes  int
	shardSpec   string
	shards      int
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
	version     bool
	// valid is set once every flag parsed and validated.
	valid bool
}

// flagDef is one row of the flag table: the flag, its environment
// fallback, its default (as the user would type it) and how a value is
// stored. The table is the single source of the help text and of the flag
// table in docs/operations.md (TestOperationsFlagTable compares them).
type flagDef struct {
	name, env, def, usage string
	isBool                bool
	set                   func(c *config, v string) error
}

func str(f func(*config) *string) func(*config, string) error {
	return func(c *config, v string) error { *f(c) = v; return nil }
}

func dur(f func(*config) *time.Duration) func(*config, string) error {
	return func(c *config, v string) error {
		d, err := time.ParseDuration(v)
		*f(c) = d
		return err
	}
}

func boolean(f func(*config) *bool) func(*config, string) error {
	return func(c *config, v string) error {
		b, err := strconv.ParseBool(v)
		*f(c) = b
		return err
	}
}

func integer(f func(*config) *int) func(*config, string) error {
	return func(c *config, v string) error {
		n, err := strconv.Atoi(v)
		*f(c) = n
		return err
	}
}

// flagTable lists every flag of the sweeper, one row each.
var flagTable = []flagDef{
	{"store", "STOWAGE_STORE", "", "store `URL`: s3://bucket/prefix?endpoint=..., minio://..., file:///dir (required)", false,
		str(func(c *config) *string { return &c.store })},
	{"grace", "STOWAGE_SWEEPER_GRACE", "24h", "nothing younger is proposed for deletion; must exceed the longest writer stall you want to tolerate without a redo", false,
		dur(func(c *config) *time.Duration { return &c.grace })},
	{"dry-run", "STOWAGE_SWEEPER_DRY_RUN", "false", "report what would be reclaimed; open read-only and write nothing", true,
		boolean(func(c *config) *bool { return &c.dryRun })},
	{"max-deletes", "STOWAGE_SWEEPER_MAX_DELETES", strconv.Itoa(gc.DefaultMaxDeletes), "most deletions per run; the rest is deferred (0: delete nothing, negative: unbounded)", false,
		integer(func(c *config) *int { return &c.maxDeletes })},
	{"shard", "STOWAGE_SWEEPER_SHARD", "", "sweep shard `i/n` only (n <= 64); default 0/1, or JOB_COMPLETION_INDEX/--shards in an Indexed Job", false,
		str(func(c *config) *string { return &c.shardSpec })},
	{"shards", "STOWAGE_SWEEPER_SHARDS", "0", "shard count when the index comes from JOB_COMPLETION_INDEX", false,
		integer(func(c *config) *int { return &c.shards })},
	{"json", "STOWAGE_SWEEPER_JSON", "false", "print the report as JSON on stdout (always, also when the sweep cannot start)", true,
		boolean(func(c *config) *bool { return &c.jsonOut })},
	{"pushgateway", "STOWAGE_SWEEPER_PUSHGATEWAY", "", "push metrics to this Prometheus Pushgateway `URL` (job stowage_sweeper, grouped by shard)", false,
		str(func(c *config) *string { return &c.pushgateway })},
	{"metrics-textfile", "STOWAGE_SWEEPER_METRICS_TEXTFILE", "", "write metrics to this `file` (node_exporter textfile collector)", false,
		str(func(c *config) *string { return &c.textfile })},
	{"allow-empty-roots", "STOWAGE_SWEEPER_ALLOW_EMPTY_ROOTS", "false", "sweep even if no row, upload intent or head exists (deletes everything unreferenced)", true,
		boolean(func(c *config) *bool { return &c.allowEmpty })},
	{"forget-dead-intents", "STOWAGE_SWEEPER_FORGET_DEAD_INTENTS", "true", "forget dead intents first (--forget-dead-intents=false keeps them): aged upload intents that are aborted or owner-dead, and each session's dead rows through its head fence (docs/protocol.md, Sweeping, W2)", true,
		boolean(func(c *config) *bool { return &c.forget })},
	{"lease-ttl", "STOWAGE_SWEEPER_LEASE_TTL", "5m", "time to live of the shard lease (renewed while sweeping)", false,
		dur(func(c *config) *time.Duration { return &c.leaseTTL })},
	{"holder", "STOWAGE_SWEEPER_HOLDER", "", "name of this sweeper in the lease; default host:pid", false,
		str(func(c *config) *string { return &c.holder })},
	{"log-level", "STOWAGE_SWEEPER_LOG_LEVEL", "info", "debug, info, warn or error", false,
		func(c *config, v string) error { return c.logLevel.UnmarshalText([]byte(v)) }},
	{"log-format", "STOWAGE_SWEEPER_LOG_FORMAT", "text", "text or json", false,
		func(c *config, v string) error {
			if v != "text" && v != "json" {
				return fmt.Errorf("%q: want text or json", v)
			}
			c.logJSON = v == "json"
			return nil
		}},
	{"progress", "STOWAGE_SWEEPER_PROGRESS", "auto", "progress on stderr: auto (when a terminal), always or never", false,
		func(c *config, v string) error {
			if v != "auto" && v != "always" && v != "never" {
				return fmt.Errorf("%q: want auto, always or never", v)
			}
			c.progress = v
			return nil
		}},
	{"version", "", "false", "print the module version, commit and Go version, and exit", true,
		boolean(func(c *config) *bool { return &c.version })},
}

// parseFlags parses args with environment fallbacks from getenv: the
// default, then the environment variable, then the flag. It returns
// flag.ErrHelp for -h and an exitcode.UsageError for a bad value, with the
// config as far as it was parsed (for --json, which holds also then).
func parseFlags(args []string, getenv func(string) string, stderr io.Writer) (*config, error) {
	c := &config{}
	fs := flag.NewFlagSet("sweeper", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usageText)
		fs.PrintDefaults()
		fmt.Fprint(stderr, exitText)
	}
	var envErr error
	for _, d := range flagTable {
		if err := d.set(c, d.def); d.def != "" && err != nil {
			panic(fmt.Sprintf("sweeper: default of --%s: %v", d.name, err))
		}
		if v := getenvOf(getenv, d.env); v != "" {
			if err := d.set(c, v); err != nil {
				envErr = errors.Join(envErr, fmt.Errorf("%s: %w", d.env, err))
			}
		}
		usage := d.usage
		if d.env != "" {
			usage += " [" + d.env + "]"
		}
		fs.Var(flagValue{def: d, c: c}, d.name, usage)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return c, exitcode.UsageError{Err: err}
	}
	if envErr != nil {
		return c, exitcode.UsageError{Err: envErr}
	}
	if c.version {
		return c, nil
	}
	if err := c.validate(fs.Args(), getenv); err != nil {
		return c, exitcode.UsageError{Err: err}
	}
	c.valid = true
	return c, nil
}

// flagValue is a flag of the table for package flag. Its String is the
// default, which the help prints ("(default 24h)"), empty for an off or
// zero default (which the help leaves out).
type flagValue struct {
	def flagDef
	c   *config
}

func (f flagValue) String() string {
	if f.def.def == "false" || f.def.def == "0" {
		return ""
	}
	return f.def.def
}

func (f flagValue) Set(v string) error { return f.def.set(f.c, v) }
func (f flagValue) IsBoolFlag() bool   { return f.def.isBool }

func getenvOf(getenv func(string) string, name string) string {
	if name == "" {
		return ""
	}
	return getenv(name)
}

// validate checks what no single flag can and derives the shard.
func (c *config) validate(rest []string, getenv func(string) string) error {
	switch {
	case len(rest) > 0:
		return fmt.Errorf("unexpected arguments: %q", rest)
	case c.store == "":
		return errors.New("--store (or STOWAGE_STORE) is required")
	case c.grace < 0:
		return errors.New("--grace must not be negative")
	case c.leaseTTL <= 0:
		return errors.New("--lease-ttl must be positive")
	}
	if err := c.validateOutputs(); err != nil {
		return err
	}
	var err error
	switch {
	case c.shardSpec != "":
		c.shard, err = gc.ParseShard(c.shardSpec)
	case c.shards > 0:
		idx := strings.TrimSpace(getenv("JOB_COMPLETION_INDEX"))
		if idx == "" {
			return errors.New("--shards needs JOB_COMPLETION_INDEX (an Indexed Job) or use --shard i/n")
		}
		c.shard, err = gc.ParseShard(idx + "/" + strconv.Itoa(c.shards))
	}
	return err
}

// validateOutputs checks, before the sweep, where its metrics go: a
// Pushgateway URL that cannot be parsed, or a textfile in a directory that
// does not exist, would otherwise fail only after the sweep had deleted.
func (c *config) validateOutputs() error {
	if c.pushgateway != "" {
		raw := c.pushgateway
		if !strings.Contains(raw, "://") {
			raw = "http://" + raw // as the push client does
		}
		u, err := url.Parse(raw)
		switch {
		case err != nil:
			return fmt.Errorf("--pushgateway: %w", err)
		case u.Scheme != "http" && u.Scheme != "https" || u.Host == "":
			return fmt.Errorf("--pushgateway %q: want an http(s) URL with a host", c.pushgateway)
		}
	}
	if c.textfile != "" {
		dir := filepath.Dir(c.textfile)
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			return fmt.Errorf("--metrics-textfile %q: no directory %s", c.textfile, dir)
		}
	}
	return nil
}
