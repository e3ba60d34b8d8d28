package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"github.com/stowage-dev/stowage"
	"github.com/stowage-dev/stowage/objstore/openurl"
)

// Exit codes.
const (
	exitOK       = 0
	exitError    = 1
	exitUsage    = 2
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

Every command takes --store URL (or STOWAGE_STORE):
  s3://bucket/prefix?endpoint=http://127.0.0.1:9000&quirks=minio
  file:///absolute/dir   file:relative/dir   mem://
S3 credentials come from the standard AWS chain (AWS_ACCESS_KEY_ID, ...).

Exit codes: 0 ok, 1 error, 2 usage, 3 fsck found problems.
Run 'stowage <command> -h' for a command's flags.
`

// env is what every command gets from run.
type env struct {
	getenv         func(string) string
	stdout, stderr io.Writer
}

// command is a subcommand: it parses its own flags from args and returns
// an exit code.
type command func(ctx context.Context, e *env, args []string) int

var commands = map[string]command{
	"demo":    runDemo,
	"inspect": runInspect,
	"fsck":    runFsck,
	"bench":   runBench,
	// demo-writer is the demo's writer process (re-executed by the demo).
	demoWriterCmd: runDemoWriter,
}

// run is the whole command; main only calls it.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	e := &env{getenv: getenv, stdout: stdout, stderr: stderr}
	if len(args) == 0 {
		fmt.Fprint(stderr, usageText)
		return exitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usageText)
		return exitOK
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "stowage: unknown command %q\n\n%s", args[0], usageText)
		return exitUsage
	}
	return cmd(ctx, e, args[1:])
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

// parse parses args; it returns an exit code and false when the command
// must stop (help, or a usage error already reported).
func (e *env) parse(fs *flag.FlagSet, args []string) (int, bool) {
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return exitOK, false
	case err != nil:
		return exitUsage, false
	}
	return exitOK, true
}

// usageErr reports a usage error.
func (e *env) usageErr(cmd string, format string, args ...any) int {
	fmt.Fprintf(e.stderr, "stowage %s: %s\n", cmd, fmt.Sprintf(format, args...))
	return exitUsage
}

// fail reports an error and returns exitError.
func (e *env) fail(cmd string, err error) int {
	fmt.Fprintf(e.stderr, "stowage %s: %v\n", cmd, err)
	return exitError
}

// open opens the stowage store url names.
func (e *env) open(ctx context.Context, url string, log *slog.Logger) (*stowage.Store, error) {
	return stowage.Open(ctx, url, stowage.Config{Logger: log, URL: &openurl.Options{Getenv: e.getenv, Logger: log}})
}

// quietLogger logs warnings and errors to stderr.
func (e *env) quietLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}
