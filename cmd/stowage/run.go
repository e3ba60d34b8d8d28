package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"

	"github.com/stowage-dev/stowage"
	"github.com/stowage-dev/stowage/attach"
	"github.com/stowage-dev/stowage/ids"
	"github.com/stowage-dev/stowage/internal/buildinfo"
	"github.com/stowage-dev/stowage/internal/exitcode"
	"github.com/stowage-dev/stowage/objstore"
	"github.com/stowage-dev/stowage/objstore/openurl"
	"github.com/stowage-dev/stowage/objstore/retry"
)

// Exit codes.
const (
	exitOK       = exitcode.OK
	exitError    = exitcode.Failure
	exitUsage    = exitcode.Config
	exitProblems = 3
)

const usageText = `Usage: stowage <command> [flags]

Commands:
  demo      the whole story on a fresh local file store (or --store): agents
            commit turns with attachments, a writer is killed mid-turn, a reader
            loads every session back, the sweeper reclaims exactly the orphans,
            fsck comes back clean
  inspect   list sessions; show a head, the revision log, the graph (tree or
            Graphviz DOT), attachment refs; cat an attachment
  fsck      check every invariant of a bucket and report its orphans
  bench     measure stowage against the raw SDK on the same server, side by side
  attach    direct transfer: grant-put, seal, grant-get (presigned requests for
            a client to send or fetch an attachment's bytes straight to the
            bucket)
  version   the module version, commit and Go version of this binary

Every command takes --store URL (or STOWAGE_STORE):
  s3://bucket/prefix?endpoint=http://127.0.0.1:9000&quirks=minio
  file:///absolute/dir   file:relative/dir   mem://
S3 credentials come from the standard AWS chain (AWS_ACCESS_KEY_ID, ...).

Flags may come before or after the command and its arguments.

Exit codes: 0 ok, 1 transient error (retry later), 2 usage or configuration
(bad flag or URL, unknown URL parameter, no such bucket, access denied, no
stowage store at the URL) and whatever retrying cannot fix (no such session
or attachment, an invalid id or range, an operation the store does not
support), 3 fsck found problems, 130/143 interrupted by
SIGINT/SIGTERM.
Run 'stowage <command> -h' for a command's flags.
`

// env is what every command gets from run.
type env struct {
	ctx            context.Context // for exit codes: a signal's cancellation
	getenv         func(string) string
	stdout, stderr io.Writer
	// wrap, if set, wraps the object store every command opens (tests:
	// a store that is slow, or stops, at a chosen request).
	wrap func(objstore.Store) objstore.Store
}

// command is a subcommand: it parses its own flags from args and returns
// an exit code.
type command func(ctx context.Context, e *env, args []string) int

var commands = map[string]command{
	"demo":    runDemo,
	"version": runVersion,
	"inspect": runInspect,
	"fsck":    runFsck,
	"bench":   runBench,
	"attach":  runAttach,
	// demo-writer is the demo's writer process (re-executed by the demo).
	demoWriterCmd: runDemoWriter,
}

// run is the whole command; main only calls it. Flags may come before or
// after the command name (`stowage --store URL fsck` is `stowage fsck
// --store URL`).
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	return (&env{ctx: ctx, getenv: getenv, stdout: stdout, stderr: stderr}).run(args)
}

func (e *env) run(args []string) int {
	ctx := e.ctx
	i := slices.IndexFunc(args, func(a string) bool { _, ok := commands[a]; return ok })
	if i < 0 {
		if len(args) > 0 && slices.Contains([]string{"-h", "-help", "--help", "help"}, args[0]) {
			fmt.Fprint(e.stdout, usageText)
			return exitOK
		}
		if first := slices.IndexFunc(args, func(a string) bool { return !strings.HasPrefix(a, "-") }); first >= 0 {
			fmt.Fprintf(e.stderr, "stowage: unknown command %q\n\n%s", args[first], usageText)
		} else {
			fmt.Fprint(e.stderr, usageText)
		}
		return exitUsage
	}
	rest := append(slices.Clone(args[:i]), args[i+1:]...)
	return commands[args[i]](ctx, e, rest)
}

const versionUsage = `Usage: stowage version

Prints the module version, the commit and the Go version the binary was
built from (its build information).
`

func runVersion(_ context.Context, e *env, args []string) int {
	fs := e.newFlags("version", versionUsage)
	if code, ok := e.parse(fs, args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		return e.usageErr("version", "unexpected arguments %q", fs.Args())
	}
	fmt.Fprintln(e.stdout, "stowage", buildinfo.Read())
	return exitOK
}

// newFlags returns a flag set for a command whose usage prints synopsis
// then the flags.
func (e *env) newFlags(name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet("stowage "+name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprint(e.stderr, synopsis)
		fmt.Fprintln(e.stderr, "\nFlags:")
		fs.PrintDefaults()
	}
	return fs
}

// storeFlag adds --store with its STOWAGE_STORE fallback.
func (e *env) storeFlag(fs *flag.FlagSet) *string {
	return fs.String("store", e.getenv("STOWAGE_STORE"), "store `URL` [STOWAGE_STORE]")
}

// parse parses args, flags and positional arguments in any order (a "--"
// ends the flags); fs.Args() then holds the positional ones. It returns an
// exit code and false when the command must stop (help, or a usage error
// already reported).
func (e *env) parse(fs *flag.FlagSet, args []string) (int, bool) {
	err := parseInterleaved(fs, args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return exitOK, false
	case err != nil:
		return exitUsage, false
	}
	return exitOK, true
}

func parseInterleaved(fs *flag.FlagSet, args []string) error {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			pos = append(pos, rest...)
			break
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
	return fs.Parse(append([]string{"--"}, pos...))
}

// usageErr reports a usage error.
func (e *env) usageErr(cmd string, format string, args ...any) int {
	fmt.Fprintf(e.stderr, "stowage %s: %s\n", cmd, fmt.Sprintf(format, args...))
	return exitUsage
}

// fail reports an error and returns its exit code: 2 for a configuration
// error, 130/143 after a signal, 1 otherwise (package exitcode).
func (e *env) fail(cmd string, err error) int {
	fmt.Fprintf(e.stderr, "stowage %s: %v\n", cmd, err)
	code := exitcode.Classify(e.ctx, err)
	if code == exitError && notTransient(err) {
		return exitUsage
	}
	return code
}

// errNoSession: the store holds no session of that id (no head, and for
// inspect refs no attachment ref either).
var errNoSession = errors.New("no such session")

// notTransient reports whether err is one that retrying never fixes, so
// that it exits 2 rather than 1 ("retry later"): no such session or
// attachment, an invalid id, an invalid argument (a range past the end),
// an operation the store does not support (docs/operations.md, "Exit
// codes").
func notTransient(err error) bool {
	for _, target := range []error{errNoSession, attach.ErrNotFound, ids.ErrInvalidID,
		objstore.ErrInvalidArgument, objstore.ErrNotSupported} {
		if errors.Is(err, target) {
			return true
		}
	}
	return false
}

// open opens the stowage store url names; read-only for the commands that
// only look (fsck, inspect): no write, no lock, nothing created.
//
// Read-only, a target that holds no stowage store is refused ("no stowage
// store at URL", exit 2) instead of being taken for an empty store.
func (e *env) open(ctx context.Context, url string, log *slog.Logger, readOnly bool) (*stowage.Store, error) {
	o := &openurl.Options{Getenv: e.getenv, Logger: log, ReadOnly: readOnly}
	if e.wrap != nil {
		o.Metrics = wrapper(e.wrap)
	}
	st, err := stowage.Open(ctx, url, stowage.Config{Logger: log, ReadOnly: readOnly, URL: o})
	return st, exitcode.Where(url, err)
}

// wrapper puts env.wrap where openurl composes the decorators.
type wrapper func(objstore.Store) objstore.Store

func (w wrapper) Instrument(s objstore.Store, _ string) (objstore.Store, retry.Hooks) {
	return w(s), retry.Hooks{}
}

// quietLogger logs warnings and errors to stderr.
func (e *env) quietLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}
